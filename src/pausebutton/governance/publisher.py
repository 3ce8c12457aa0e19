"""The publication service: verify a governance document, log it, get it witnessed, publish it.

`Publisher.publish` runs, in order, and changes nothing if any step before the append
refuses:

1. admission: the document is checked against the published state (`acceptance.admit`,
   strict), which is itself the replay of what was published, each document at the time
   it was logged;
2. the log: the envelope is appended as a ``governance.*`` event by the publisher's key,
   through `EventLog`, whose policy re-runs the same admission inside the append
   transaction (`events.governance_policy`);
3. witnesses: the log signs a checkpoint; each witness checks it extends the last one it
   cosigned and cosigns it; the cosignatures are stored with the log;
4. the repository: the publication (entry + inclusion bundle with the cosigned checkpoint)
   becomes a TUF target, and new targets, snapshot and timestamp versions are signed.

If 3 or 4 fails after 2, the log already holds the event (the log is the truth);
`renew_receipts` rebuilds every target, with a fresh receipt, from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey, key_id
from pausebutton.errors import Error, FormatError, ValidationError
from pausebutton.governance.acceptance import Admitted, Direction, View, admit, replay
from pausebutton.governance.events import (
    PUBLISHER_ROLE,
    governance_entries,
    governance_event,
    governance_policy,
)
from pausebutton.governance.policy import Policy
from pausebutton.governance.provisioning import initial_root
from pausebutton.governance.publication import (
    Publication,
    make_publication,
    required_cosignatures,
    witnessed_by,
)
from pausebutton.governance.publish import Repository, target_path
from pausebutton.governance.root import Root, verify_initial_root
from pausebutton.log import merkle, note
from pausebutton.log.checkpoint import Checkpoint, open_checkpoint
from pausebutton.log.cosignature import CosignatureSigner, CosignatureVerifier, Witness
from pausebutton.log.proofs import InclusionBundle, encode_hashes
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import parse_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog

DEFAULT_FRESHNESS_S: int = Policy.model_fields["freshness_s"].default
"""The timestamp expiry before any policy is published: the policy's documented default."""


class WitnessClient(Protocol):
    """A witness the publisher asks to cosign the log's newest checkpoint."""

    def verifier(self) -> CosignatureVerifier:
        """The witness's cosignature verifier."""
        ...

    def cosign(self, log: TransparencyLog, checkpoint: str, now: int) -> str:
        """Return `checkpoint` cosigned, after checking it extends the last one cosigned."""
        ...


class LocalWitness:
    """A witness run in-process (tests, bench, a one-machine ceremony); state kept on disk."""

    def __init__(
        self, signer: CosignatureSigner, log_verifier: note.Verifier, state_file: Path | None = None
    ) -> None:
        self._signer = signer
        self._log_verifier = log_verifier
        self._state_file = state_file
        state = None
        if state_file is not None and state_file.exists():
            state, _ = open_checkpoint(state_file.read_text(), log_verifier, log_verifier.name)
        self._witness = Witness(signer, log_verifier, log_verifier.name, state)

    def verifier(self) -> CosignatureVerifier:
        """The witness's cosignature verifier."""
        return self._signer.verifier()

    def cosign(self, log: TransparencyLog, checkpoint: str, now: int) -> str:
        """Cosign `checkpoint` if it extends the last one this witness cosigned."""
        old = self._witness.state
        new = Checkpoint.parse(note.verify(checkpoint, [self._log_verifier]).text)
        proof: list[bytes] = []
        if old is not None and 0 < old.size < new.size:
            proof = log.consistency_proof(old.size, new.size)
        cosigned = self._witness.cosign(checkpoint, proof, now)
        if self._state_file is not None:
            self._state_file.write_text(checkpoint)
        return cosigned


@dataclass(frozen=True)
class Published:
    """What one publication did: the target, its log index, its direction, its witnesses."""

    path: str
    index: int
    direction: Direction
    cosignatures: int
    needed: int
    publication: Publication


def published_view(repo: Repository) -> View | None:
    """The state a repository publishes, replayed in log order; None before the first root."""
    items = sorted(repo.publications().values(), key=lambda p: p.receipt.index)
    history = [(p.envelope(), p.logged_at()) for p in items]
    if not history:
        return None
    view, refused = replay(View.starting_from(initial_root(history[0][0])), history[1:])
    if refused:
        raise ValidationError(f"the repository holds a refused document: {refused[0].reason}")
    return view


class Publisher:
    """The authority's publication service over one log and one TUF repository."""

    def __init__(
        self,
        repo: Repository,
        log: TransparencyLog,
        key: SigningKey,
        witnesses: Sequence[WitnessClient] = (),
    ) -> None:
        self.repo = repo
        self.log = log
        self.key = key
        self.witnesses = tuple(witnesses)

    def view(self) -> View | None:
        """The published state, replayed in log order; None before the first root."""
        return published_view(self.repo)

    def publish(self, envelope: Envelope, now: int) -> Published:
        """Admit, log, witness and publish one governance document; refuse and change nothing."""
        with self.repo.locked(".publish.lock"):
            view = self.view()

            def check(candidate: Envelope, at: int) -> Admitted:
                if view is None:
                    root = verify_initial_root(candidate, at)
                    return Admitted(root, "loosening", View.starting_from(root))
                return admit(view, candidate, at)

            admitted = check(envelope, now)
            trusted = admitted.view.root if view is None else view.root
            self._check_log_key(trusted)
            intake = EventLog(
                self.log,
                anchors=[ActorKey(self.key.public, frozenset({PUBLISHER_ROLE}), name="publisher")],
                policy=governance_policy(check),
                clock=lambda: now,
            )
            (index,) = intake.submit_batch([governance_event(envelope, self.key, now)])
            checkpoint = self._witnessed(now)
            publication = make_publication(self.log.entry(index), self._receipt(index, checkpoint))
            path = target_path(envelope)
            freshness = _freshness(admitted.view)
            self.repo.update({path: publication.to_bytes()}, freshness_s=freshness, now=now)
        needed = 0
        if admitted.direction == "loosening":
            needed = required_cosignatures(trusted, view.policy if view else None)
        return Published(
            path=path,
            index=index,
            direction=admitted.direction,
            cosignatures=len(witnessed_by(trusted, checkpoint, self.log.origin)[1]),
            needed=needed,
            publication=publication,
        )

    def _check_log_key(self, root: Root) -> None:
        signer = self.log.signer
        if signer is None:
            raise ValidationError("the log was opened without its signing key")
        keyid = key_id(signer.verifier().public_key)
        if keyid not in root.roles["log"].keyids:
            raise ValidationError(
                f"the log's key {keyid[:16]}… is not a log key of root v{root.version}: devices "
                "could not check its receipts"
            )

    def renew_receipts(self, now: int) -> int:
        """Rebuild every target from the log, proved against a newly witnessed checkpoint.

        The log is the truth: a document logged but never written to the repository (a
        crash between the two) is published by this, as long as replaying the log admits
        it. Returns the number of targets written.
        """
        with self.repo.locked(".publish.lock"):
            raw = self.log.entries(0, self.log.size) if self.log.size else []
            logged = list(governance_entries(enumerate(raw)))
            if not logged:
                return 0
            view = View.starting_from(initial_root(logged[0][1]))
            admitted = [logged[0]]
            for index, envelope in logged[1:]:
                try:
                    view = admit(view, envelope, parse_event(raw[index]).body.time).view
                except Error:
                    continue  # refused by the replay: not a publication
                admitted.append((index, envelope))
            checkpoint = self._witnessed(now)
            files = {
                target_path(envelope): make_publication(
                    raw[index], self._receipt(index, checkpoint)
                ).to_bytes()
                for index, envelope in admitted
            }
            self.repo.update(files, freshness_s=_freshness(view), now=now)
        return len(files)

    def refresh_timestamp(self, now: int) -> None:
        """Re-sign the timestamp so devices stay fresh for another `freshness_s`."""
        self.repo.refresh_timestamp(freshness_s=_freshness(self.view()), now=now)

    def _witnessed(self, now: int) -> str:
        checkpoint = self.log.checkpoint(now)
        size = Checkpoint.parse(note.parse_signed_note(checkpoint)[0]).size
        for witness in self.witnesses:
            try:
                cosigned = witness.cosign(self.log, checkpoint, now)
                self.log.add_cosignatures(cosigned, [witness.verifier()])
            except Error:
                continue  # a witness that refuses or fails just does not count
        return self.log.cosigned_checkpoint(size)

    def _receipt(self, index: int, checkpoint: str) -> InclusionBundle:
        size = Checkpoint.parse(note.parse_signed_note(checkpoint)[0]).size
        if index >= size:
            raise FormatError(f"entry {index} is not in the checkpoint of size {size}")
        return InclusionBundle(
            index=index,
            leaf_hash=encode_hashes([merkle.leaf_hash(self.log.entry(index))])[0],
            proof=encode_hashes(self.log.inclusion_proof(index, size)),
            checkpoint=checkpoint,
        )


def _freshness(view: View | None) -> int:
    if view is None or view.policy is None:
        return DEFAULT_FRESHNESS_S
    return view.policy.freshness_s
