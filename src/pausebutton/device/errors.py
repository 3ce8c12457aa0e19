"""The errors the device side raises besides the core's typed errors."""

from __future__ import annotations

from pausebutton.errors import Error, StoreError


class StateTamperedError(StoreError):
    """The secure element's state does not verify: edited, truncated, or swapped underneath."""


class NotProvisionedError(StoreError):
    """The secure element holds no state yet: the device was never provisioned."""


class UnlockRefusedError(Error):
    """The governor will not release a key: no valid licence, a pause, or stale governance."""
