"""Metering real work: FLOPs of PyTorch steps (``metering.torch``) and analytic estimates.

``pausebutton.metering.estimate`` needs nothing beyond the standard library;
``pausebutton.metering.torch`` needs PyTorch and is imported on its own.
"""
