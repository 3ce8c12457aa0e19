"""Metering tests need PyTorch, except the analytic estimates."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["test_[!e]*.py", "models.py"]
