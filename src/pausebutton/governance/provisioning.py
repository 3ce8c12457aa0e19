"""What a device is given at manufacture: the first governance root, the first TUF root, the log.

Everything a device trusts later follows from these three anchors: governance roots by
`verify_root_chain`'s rules, TUF roots by TUF's, checkpoints by the log and witness keys
the trusted governance root names, under the log's origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuf.api.metadata import Metadata

from pausebutton.crypto.envelope import Envelope, parse_envelope
from pausebutton.errors import FormatError, ValidationError
from pausebutton.governance.root import Root, parse_root, verify_role
from pausebutton.governance.tuf_keys import verify_tuf_root


def initial_root(envelope: Envelope) -> Root:
    """Read a first root (version 1), checking it is signed by its own root threshold.

    Its expiry is not checked: a device that was offline past it still walks the chain of
    later roots from it, and the root it ends on must be fresh.
    """
    root = parse_root(envelope)
    if root.version != 1:
        raise ValidationError(f"the first root must be version 1, not {root.version}")
    verify_role(envelope, root, "root")
    return root


@dataclass(frozen=True)
class Provisioning:
    """The trust anchors a device gets at manufacture: first roots and the log's origin."""

    governance_root: Envelope
    tuf_root: bytes
    log_origin: str

    def check(self) -> Root:
        """Check the anchors agree (TUF root = governance root role); return the root."""
        root = initial_root(self.governance_root)
        verify_tuf_root(Metadata.from_bytes(self.tuf_root), root)
        return root

    def save(self, directory: Path) -> None:
        """Write the anchors as three files in `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "governance-root.json").write_bytes(self.governance_root.to_bytes())
        (directory / "tuf-root.json").write_bytes(self.tuf_root)
        (directory / "log-origin.txt").write_text(self.log_origin + "\n")

    @classmethod
    def load(cls, directory: Path) -> Provisioning:
        """Read anchors written by `save`."""
        try:
            return cls(
                parse_envelope((directory / "governance-root.json").read_bytes()),
                (directory / "tuf-root.json").read_bytes(),
                (directory / "log-origin.txt").read_text().strip(),
            )
        except FileNotFoundError as exc:
            raise FormatError(f"incomplete provisioning in {directory}: {exc}") from None
