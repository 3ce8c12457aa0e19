"""pausebutton: a reference Compute Pause Button (Governance, Enforcement, Verification)."""

from pausebutton.errors import (
    Error,
    FormatError,
    NoteError,
    ProofError,
    ReplayError,
    SignatureError,
    StoreError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "Error",
    "FormatError",
    "NoteError",
    "ProofError",
    "ReplayError",
    "SignatureError",
    "StoreError",
    "ValidationError",
    "__version__",
]
