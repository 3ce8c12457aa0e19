"""A published regime for tests and the benchmark: the ceremony's keys, a real log, witnesses,
a TUF repository on disk, and a real HTTP server. No mocks.

TUF checks expiry against the real clock, so the documents here are dated from the real
time (`ceremony.NOW` is in the past), rounded down to a minute for stable output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.device.governance_client import GovernanceClient, Provisioning
from pausebutton.governance import Policy, draft, draft_pause, draft_resume
from pausebutton.governance.publish import Repository
from pausebutton.governance.publisher import LocalWitness, Published, Publisher
from pausebutton.governance.serve import RepositoryServer
from pausebutton.governance.tuf_keys import make_tuf_root, sign_tuf_root
from pausebutton.log import note
from pausebutton.log.cosignature import CosignatureSigner
from pausebutton.log.tlog import TransparencyLog
from tests.governance.ceremony import DAY, YEAR, Ceremony, ceremony, collect, key

ORIGIN = "governance.example/log"


def real_now() -> int:
    """The real time, rounded down to the minute."""
    return int(time.time()) // 60 * 60


@dataclass
class World:
    """A ceremony's regime published through a real log, witnesses, TUF repo and server."""

    c: Ceremony
    now: int
    log: TransparencyLog
    repo: Repository
    publisher: Publisher
    server: RepositoryServer
    provisioning: Provisioning
    root: Path
    clients: int = field(default=0)

    def signers(self, count: int | None = None) -> list[SigningKey]:
        """The first `count` governors' pause keys (the threshold by default)."""
        return self.c.role_keys("pause")[: self.c.threshold if count is None else count]

    def policy(self, version: int = 1, signers: int | None = None, **changes: Any) -> Envelope:
        """A policy dated from now, signed by the first `signers` policy keys."""
        changes.setdefault("expires", self.now + 90 * DAY)
        return self.c.signed_policy(Policy(version=version, **changes), signers)

    def pause(self, id: str = "pause-1", signers: int | None = None, **fields: Any) -> Envelope:
        """A global halt from a minute ago, signed by the first `signers` pause keys."""
        fields.setdefault("issued", self.now - 60)
        fields.setdefault("effective_at", self.now - 60)
        fields.setdefault("reason", "test pause")
        return collect(draft_pause(id, **fields), self.signers(signers))

    def resume(
        self, id: str = "resume-1", lifts: str = "pause-1", signers: int | None = None
    ) -> Envelope:
        """A resume of `lifts`, effective now."""
        envelope = draft_resume(
            id, lifts=lifts, issued=self.now, effective_at=self.now, reason="test resume"
        )
        return collect(envelope, self.signers(signers))

    def publish(self, envelope: Envelope) -> Published:
        """Publish at the world's time."""
        return self.publisher.publish(envelope, self.now)

    def client(self, clock: Callable[[], float] | None = None) -> GovernanceClient:
        """A fresh device client with its own state folder."""
        self.clients += 1
        state = self.root / f"device-{self.clients}"
        return GovernanceClient(
            state, self.server.url, self.provisioning, clock=clock or (lambda: self.now)
        )

    def close(self) -> None:
        """Stop the server and close the log."""
        self.server.stop()
        self.log.close()


def build_world(tmp: Path, *, witnesses: int = 3, label: str = "world/") -> World:
    """Run the ceremony, publish the first root, and start serving the repository."""
    now = real_now()
    c = ceremony(label=label)
    c.root = c.make_root(expires=now + YEAR)
    c.root_envelope = collect(draft(c.root), c.root_signers())
    publication_key = key(f"{label}publisher")
    tuf_root = make_tuf_root(c.root, publication_key.public)
    for governor_key in c.root_signers():
        sign_tuf_root(tuf_root, governor_key)
    repo = Repository.create(tmp / "repo", tuf_root, publication_key, freshness_s=DAY, now=now)
    log_signer = note.Signer(ORIGIN, c.log[0])
    log = TransparencyLog.open(f"sqlite:///{tmp / 'log.db'}", ORIGIN, log_signer)
    local = [
        LocalWitness(CosignatureSigner(f"witness-{i}.example", k), log_signer.verifier())
        for i, k in enumerate(c.witness[:witnesses])
    ]
    publisher = Publisher(repo, log, publication_key, local)
    publisher.publish(c.root_envelope, now)
    provisioning = Provisioning(c.root_envelope, tuf_root.to_bytes(), ORIGIN)
    server = RepositoryServer(repo.path).start()
    return World(c, now, log, repo, publisher, server, provisioning, tmp)
