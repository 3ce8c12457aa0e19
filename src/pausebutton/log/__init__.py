"""The transparency log: Merkle proofs, C2SP notes, checkpoints, cosignatures, and the log."""

from pausebutton.errors import NoteError, ProofError

__all__ = ["NoteError", "ProofError"]
