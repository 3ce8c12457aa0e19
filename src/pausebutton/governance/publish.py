"""The governance TUF repository on disk: root, targets, snapshot, timestamp; consistent snapshots.

Layout (served as is over HTTP, see `serve`)::

    metadata/1.root.json  root.json  N.targets.json  N.snapshot.json  timestamp.json
    targets/governance/index.json                       (hash-prefixed, see below)
    targets/governance/roots/<version>.json  policies/<version>.json
    targets/governance/revocations/<version>.json  directives/<id>.json

With consistent snapshots every target is stored as ``<dir>/<sha256>.<name>`` and every
targets and snapshot version under its own name, so a client midway through an update
never mixes two states; ``timestamp.json`` is replaced last, atomically. The timestamp
expires `freshness_s` after it is signed (the policy's freshness limit); targets and
snapshot expire with the TUF root. Writers hold an exclusive lock on ``.lock``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (  # type: ignore[attr-defined]  # public, without __all__
    Metadata,
    MetaFile,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.metadata import Root as TufRoot  # type: ignore[attr-defined]

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey
from pausebutton.errors import FormatError, SignatureError, StoreError, ValidationError
from pausebutton.governance.publication import Publication, parse_publication
from pausebutton.governance.tuf_keys import KeySigner, online_keyid, to_datetime

INDEX = "governance/index.json"
"""The target listing every governance target (ngclient looks targets up by path only)."""

_FOLDERS = {
    "pausebutton.root/v1": ("roots", "version"),
    "pausebutton.policy/v1": ("policies", "version"),
    "pausebutton.revocations/v1": ("revocations", "version"),
    "pausebutton.pause/v1": ("directives", "id"),
    "pausebutton.resume/v1": ("directives", "id"),
}


def target_path(envelope: Envelope) -> str:
    """The target path of a governance document, e.g. ``governance/directives/p-1.json``."""
    try:
        folder, field = _FOLDERS[envelope.payload_type]
    except KeyError:
        raise FormatError(f"{envelope.payload_type!r} is not a governance document") from None
    return f"governance/{folder}/{envelope.payload[field]}.json"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Repository:
    """A TUF repository whose targets are governance publications."""

    def __init__(self, path: Path, online: SigningKey | None = None) -> None:
        self.path = path
        self.metadata_dir = path / "metadata"
        self.targets_dir = path / "targets"
        self._online = online
        if not (self.metadata_dir / "timestamp.json").exists():
            raise StoreError(f"{path} is not a governance TUF repository (no timestamp.json)")

    @classmethod
    def create(
        cls, path: Path, root: Metadata[TufRoot], online: SigningKey, *, freshness_s: int, now: int
    ) -> Repository:
        """Make a new repository at `path` from signed TUF root metadata; no targets yet."""
        if online_keyid(root) != online.key_id:
            raise ValidationError("the online key is not the TUF root's targets/snapshot key")
        if (path / "metadata").exists():
            raise StoreError(f"{path} already holds a TUF repository")
        data = root.to_bytes()
        _write(path / "metadata" / f"{root.signed.version}.root.json", data)
        _write(path / "metadata" / "root.json", data)
        expires = root.signed.expires
        targets = Metadata(Targets(version=1, expires=expires))
        snapshot = Metadata(Snapshot(version=1, expires=expires))
        signer = KeySigner(online)
        for metadata in (targets, snapshot):
            metadata.sign(signer)
            _write(path / "metadata" / f"1.{metadata.signed.type}.json", metadata.to_bytes())
        timestamp = Metadata(Timestamp(version=1, expires=to_datetime(now + freshness_s)))
        timestamp.sign(signer)
        _write(path / "metadata" / "timestamp.json", timestamp.to_bytes())
        return cls(path, online)

    @contextmanager
    def locked(self, name: str = ".lock") -> Iterator[None]:
        """Hold an exclusive lock on the file `name` in the repository (the writer lock)."""
        with open(self.path / name, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def timestamp(self) -> Metadata[Timestamp]:
        """The current timestamp metadata."""
        return Metadata[Timestamp].from_bytes((self.metadata_dir / "timestamp.json").read_bytes())

    def snapshot(self) -> Metadata[Snapshot]:
        """The snapshot metadata the timestamp points at."""
        version = self.timestamp().signed.snapshot_meta.version
        return Metadata[Snapshot].from_bytes(
            (self.metadata_dir / f"{version}.snapshot.json").read_bytes()
        )

    def targets(self) -> Metadata[Targets]:
        """The targets metadata the snapshot points at."""
        version = self.snapshot().signed.meta["targets.json"].version
        return Metadata[Targets].from_bytes(
            (self.metadata_dir / f"{version}.targets.json").read_bytes()
        )

    def root(self) -> Metadata[TufRoot]:
        """The newest TUF root metadata."""
        return Metadata[TufRoot].from_bytes((self.metadata_dir / "root.json").read_bytes())

    def add_root(self, new: Metadata[TufRoot]) -> None:
        """Rotate the TUF root: the next version, signed by the old and the new root threshold."""
        current = self.root()
        version = current.signed.version + 1
        if new.signed.version != version:
            raise ValidationError(f"the next TUF root must be version {version}")
        if self._online is None or online_keyid(new) != self._online.key_id:
            raise ValidationError("the new TUF root must keep this repository's online key")
        try:
            current.signed.verify_delegate("root", new.signed_bytes, new.signatures)
            new.signed.verify_delegate("root", new.signed_bytes, new.signatures)
        except UnsignedMetadataError as exc:
            raise SignatureError(f"TUF root v{version}: {exc}") from None
        with self.locked():
            data = new.to_bytes()
            _write(self.metadata_dir / f"{version}.root.json", data)
            _write(self.metadata_dir / "root.json", data)

    def read_target(self, path: str) -> bytes:
        """Return a target's bytes, checked against its length and hash in the targets."""
        info = self.targets().signed.targets.get(path)
        if info is None:
            raise FormatError(f"the repository has no target {path}")
        data = (self.targets_dir / info.get_prefixed_paths()[0]).read_bytes()
        info.verify_length_and_hashes(data)
        return data

    def publications(self) -> dict[str, Publication]:
        """Every governance publication, by target path."""
        return {
            path: parse_publication(self.read_target(path))
            for path in self.targets().signed.targets
            if path != INDEX
        }

    def _signer(self) -> KeySigner:
        if self._online is None:
            raise StoreError("this repository was opened without its online key")
        return KeySigner(self._online)

    def update(self, files: Mapping[str, bytes], *, freshness_s: int, now: int) -> int:
        """Add or replace targets, then sign new targets, snapshot and timestamp versions.

        Returns the new targets version. Targets are written first and the timestamp last,
        so readers see the old state or the new one, never a mixture.
        """
        signer = self._signer()
        with self.locked():
            targets = self.targets()
            for path, data in files.items():
                self._add_target(targets.signed, path, data)
            paths = sorted(p for p in targets.signed.targets if p != INDEX)
            index = json.dumps({"targets": paths}, indent=1).encode() + b"\n"
            self._add_target(targets.signed, INDEX, index)
            targets.signed.version += 1
            targets.sign(signer)
            version = targets.signed.version
            _write(self.metadata_dir / f"{version}.targets.json", targets.to_bytes())
            snapshot = self.snapshot()
            snapshot.signed.meta["targets.json"] = MetaFile(version)
            snapshot.signed.version += 1
            snapshot.sign(signer)
            _write(
                self.metadata_dir / f"{snapshot.signed.version}.snapshot.json",
                snapshot.to_bytes(),
            )
            self._sign_timestamp(snapshot.signed.version, freshness_s, now)
        return version

    def refresh_timestamp(self, *, freshness_s: int, now: int) -> None:
        """Sign a new timestamp version for the same snapshot, expiring `freshness_s` on."""
        self._signer()
        with self.locked():
            self._sign_timestamp(self.timestamp().signed.snapshot_meta.version, freshness_s, now)

    def _add_target(self, targets: Targets, path: str, data: bytes) -> None:
        info = TargetFile.from_data(path, data, ["sha256"])
        _write(self.targets_dir / info.get_prefixed_paths()[0], data)
        targets.targets[path] = info

    def _sign_timestamp(self, snapshot_version: int, freshness_s: int, now: int) -> None:
        timestamp = self.timestamp()
        timestamp.signed.snapshot_meta = MetaFile(snapshot_version)
        timestamp.signed.version += 1
        timestamp.signed.expires = to_datetime(now) + timedelta(seconds=freshness_s)
        timestamp.sign(self._signer())
        _write(self.metadata_dir / "timestamp.json", timestamp.to_bytes())
