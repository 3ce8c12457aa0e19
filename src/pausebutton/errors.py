"""The typed errors every part of pausebutton raises, under one base class."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error pausebutton raises on purpose."""


class FormatError(Error):
    """Input is malformed: bad syntax, a wrong type, a missing field, or too large."""


class SignatureError(Error):
    """A signature is missing, invalid, by an unknown key, or short of a threshold."""


class ProofError(Error):
    """A Merkle inclusion or consistency proof does not verify."""


class NoteError(Error):
    """A C2SP signed note is malformed or carries no valid signature of a known key."""


class ValidationError(Error):
    """An event was refused by the validation pipeline (authorisation or policy)."""


class ReplayError(ValidationError):
    """An event or message was seen before (same actor and nonce) or is too old."""


class StoreError(Error):
    """The storage layer is in a state it cannot work with (for example, not migrated)."""
