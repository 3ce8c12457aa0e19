"""The publication service's working folder, and the key ceremony that creates it.

``pausebutton governance init DIR`` runs `init_workspace`, which writes::

    DIR/workspace.json                  origin, log database, witness and operator keys
    DIR/governors/governor-N/{root,policy,pause}.key (+ .pub)  one folder per governor
    DIR/operators/{publisher,log,licensing,registrar}.key, witness-N.key (+ .pub)
    DIR/root-1.json  DIR/tuf-root-1.json  the first roots, signed by every governor
    DIR/provisioning/                  what devices get at manufacture
    DIR/repo/                          the TUF repository (serve it)
    DIR/log.db                         the transparency log (SQLite)

Key files are created owner-only (0600) and never overwritten. After the ceremony each
governor takes their own folder to their own machine; nothing in the service needs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pausebutton.crypto.keys import SigningKey, load_signing_key, save_signing_key
from pausebutton.errors import FormatError, StoreError
from pausebutton.governance.acceptance import Refusal, View, replay
from pausebutton.governance.events import governance_entries
from pausebutton.governance.offline import combine, draft, save_envelope, sign
from pausebutton.governance.provisioning import Provisioning, initial_root
from pausebutton.governance.publish import Repository
from pausebutton.governance.publisher import LocalWitness, Publisher, published_view
from pausebutton.governance.root import make_root
from pausebutton.governance.tuf_keys import make_tuf_root, sign_tuf_root
from pausebutton.log import note
from pausebutton.log.cosignature import CosignatureSigner
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import parse_event

CONFIG = "workspace.json"
DEFAULT_ORIGIN = "pausebutton.example/governance-log"
GOVERNOR_ROLES = ("root", "policy", "pause")
FIRST_FRESHNESS_S = 86_400


def _new_key(path: Path) -> SigningKey:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey.generate()
    save_signing_key(key, path)
    path.with_name(path.name + ".pub").write_text(key.public.to_base64() + "\n")
    return key


@dataclass(frozen=True)
class Ceremony:
    """What `init_workspace` made: the folder, the governors' key folders, the first root."""

    directory: Path
    governors: tuple[Path, ...]
    root_version: int


def init_workspace(
    directory: Path,
    *,
    governors: int,
    threshold: int,
    witnesses: int,
    witness_threshold: int,
    origin: str,
    expires: int,
    now: int,
) -> Ceremony:
    """Make every key, the first root signed by all governors, the TUF repo and the log."""
    if directory.exists() and any(directory.iterdir()):
        raise FormatError(f"{directory} exists and is not empty; the ceremony needs a new folder")
    if not 1 <= threshold <= governors:
        raise FormatError(f"threshold {threshold} must be between 1 and {governors} governors")
    if not 1 <= witness_threshold <= witnesses:
        raise FormatError(f"witness threshold {witness_threshold} must be in 1..{witnesses}")
    folders = tuple(directory / "governors" / f"governor-{i + 1}" for i in range(governors))
    keys = {role: [_new_key(f / f"{role}.key") for f in folders] for role in GOVERNOR_ROLES}
    ops = directory / "operators"
    operator = {name: _new_key(ops / f"{name}.key") for name in ("publisher", "log")}
    for name in ("licensing", "registrar"):
        operator[name] = _new_key(ops / f"{name}.key")
    witness_keys = [_new_key(ops / f"witness-{i + 1}.key") for i in range(witnesses)]
    roles = {role: ([k.public for k in keys[role]], threshold) for role in GOVERNOR_ROLES}
    for name in ("licensing", "registrar", "log"):
        roles[name] = ([operator[name].public], 1)
    roles["witness"] = ([k.public for k in witness_keys], witness_threshold)
    root = make_root(roles, expires=expires)
    # Each governor signs their own copy, as they would on their own machine; then combine.
    envelope = combine([sign(draft(root), k) for k in keys["root"]])
    save_envelope(envelope, directory / "root-1.json")
    tuf_root = make_tuf_root(root, operator["publisher"].public)
    for governor_key in keys["root"]:
        sign_tuf_root(tuf_root, governor_key)
    (directory / "tuf-root-1.json").write_bytes(tuf_root.to_bytes())
    config = {
        "origin": origin,
        "witnesses": [f"witness-{i + 1}.example" for i in range(witnesses)],
    }
    (directory / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    Repository.create(
        directory / "repo", tuf_root, operator["publisher"], freshness_s=FIRST_FRESHNESS_S, now=now
    )
    Provisioning(envelope, tuf_root.to_bytes(), origin).save(directory / "provisioning")
    with Workspace(directory).publisher() as publisher:
        publisher.publish(envelope, now)
    return Ceremony(directory, folders, root.version)


class Workspace:
    """An initialised working folder: its config, repository, log and operator keys."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            config = json.loads((directory / CONFIG).read_text())
        except FileNotFoundError:
            raise StoreError(
                f"{directory} is not a governance workspace (no {CONFIG}); run "
                "`pausebutton governance init` first"
            ) from None
        self.origin = str(config["origin"])
        self.witness_names = [str(n) for n in config["witnesses"]]

    @property
    def repo_dir(self) -> Path:
        """The TUF repository folder."""
        return self.directory / "repo"

    @property
    def log_url(self) -> str:
        """The SQLAlchemy URL of the transparency log."""
        return f"sqlite:///{self.directory / 'log.db'}"

    def _key(self, name: str) -> SigningKey:
        return load_signing_key(self.directory / "operators" / f"{name}.key")

    @contextmanager
    def publisher(self) -> Iterator[Publisher]:
        """Open the log and the repository with the operator keys; close them after."""
        log_signer = note.Signer(self.origin, self._key("log"))
        log = TransparencyLog.open(self.log_url, self.origin, log_signer)
        state = self.directory / "state"
        state.mkdir(exist_ok=True)
        witnesses = [
            LocalWitness(
                CosignatureSigner(name, self._key(f"witness-{i + 1}")),
                log_signer.verifier(),
                state / f"{name}.checkpoint",
            )
            for i, name in enumerate(self.witness_names)
        ]
        try:
            key = self._key("publisher")
            yield Publisher(Repository(self.repo_dir, key), log, key, witnesses)
        finally:
            log.close()

    def view(self) -> View:
        """The published state, as replayed from the repository."""
        view = published_view(Repository(self.repo_dir))
        if view is None:
            raise StoreError("nothing is published yet")
        return view

    def log_view(self) -> tuple[View, tuple[Refusal, ...]]:
        """The state replayed from the transparency log itself, and what the replay refused."""
        log = TransparencyLog.open(self.log_url, self.origin)
        try:
            raw = log.entries(0, log.size) if log.size else []
        finally:
            log.close()
        found = governance_entries(enumerate(raw))
        history = [(envelope, parse_event(raw[i]).body.time) for i, envelope in found]
        if not history:
            raise StoreError("the log holds no governance event")
        return replay(View.starting_from(initial_root(history[0][0])), history[1:])
