"""A device's governance client: TUF updates over HTTP, then the pure acceptance rules. I/O only.

The client owns three folders under its state directory: ``tuf/`` (TUF's trusted
metadata, so rollback and freeze are detected across restarts), ``targets/`` (downloaded
targets) and ``accepted/`` (every publication it has ever accepted; a device never forgets
a pause because a repository stopped listing it). Each `refresh` runs python-tuf's
`Updater` (root rotation, timestamp, snapshot, targets: rollback, freeze and
mix-and-match protection), downloads the governance targets, and folds everything it
holds with `acceptance.fold` from the root provisioned at manufacture. The effect is
`acceptance.device_effect`: halt if the last good refresh is older than the policy's
``freshness_s``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from tuf.api.exceptions import DownloadError, RepositoryError
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.updater import Updater
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from pausebutton.errors import Error
from pausebutton.governance.acceptance import Outcome, Refusal, View, device_effect, fold
from pausebutton.governance.directives import DeviceContext
from pausebutton.governance.provisioning import Provisioning
from pausebutton.governance.publication import Publication, parse_publication
from pausebutton.governance.publish import INDEX
from pausebutton.governance.state import Effect

SOCKET_TIMEOUT_S = 5
REFOLD_S = 3600
"""Re-verify everything at least this often even when nothing new was downloaded."""
MAX_TARGETS = 10_000


class GovernanceRefreshError(Error):
    """A refresh failed: the repository was unreachable or its TUF metadata was refused.

    The TUF error (for example ``ExpiredMetadataError``, ``BadVersionNumberError``) is the
    ``__cause__``.
    """


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh saw: when, how many targets, what it holds now, what it refused."""

    at: int
    targets: int
    accepted: int
    refused: tuple[Refusal, ...]


class GovernanceClient:
    """Keeps one device's view of the governance state, refreshed over TUF."""

    def __init__(
        self,
        state_dir: Path,
        base_url: str,
        provisioning: Provisioning,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._start = View.starting_from(provisioning.check())
        self._provisioning = provisioning
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._tuf_dir = state_dir / "tuf"
        self._targets_dir = state_dir / "targets"
        self._accepted_dir = state_dir / "accepted"
        for folder in (self._tuf_dir, self._targets_dir, self._accepted_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._accepted = [parse_publication(p.read_bytes()) for p in self._accepted_files()]
        self._outcome = fold(self._start, self._accepted, int(clock()), provisioning.log_origin)
        self._folded: frozenset[bytes] = frozenset()
        self._folded_at: int | None = None
        self.fresh_at: int | None = None
        """Time of the last successful refresh (None since start: not fresh until one)."""
        self.last_error: GovernanceRefreshError | None = None

    @property
    def view(self) -> View:
        """The governance state this device trusts now."""
        return self._outcome.view

    @property
    def refused(self) -> tuple[Refusal, ...]:
        """What the last fold refused (say, a resume without enough witnesses)."""
        return self._outcome.refused

    def effect(self, device: DeviceContext, now: int | None = None) -> Effect:
        """What `device` must do now: run, throttle or halt, and why."""
        at = int(self._clock()) if now is None else now
        return device_effect(self.view, device, at, self.fresh_at)

    def refresh(self) -> RefreshReport:
        """Update over TUF, fold what was downloaded; raise GovernanceRefreshError on failure."""
        now = int(self._clock())
        try:
            blobs = self._download()
        except GovernanceRefreshError as exc:
            self.last_error = exc
            raise
        inputs = frozenset(blobs.values())
        if inputs != self._folded or not self._same_day(now):
            # Nothing new and the same day: the fold would give the same view (time enters
            # it only through expiries, which `device_effect` checks at every call anyway).
            self._fold(blobs, now)
            self._folded, self._folded_at = inputs, now
        self.fresh_at = now
        self.last_error = None
        accepted = len(self._outcome.accepted)
        return RefreshReport(now, len(blobs), accepted, self._outcome.refused)

    def _same_day(self, now: int) -> bool:
        return self._folded_at is not None and 0 <= now - self._folded_at < REFOLD_S

    def _fold(self, blobs: dict[str, bytes], now: int) -> None:
        downloaded: list[Publication] = []
        unreadable: list[Refusal] = []
        for path, data in blobs.items():
            try:
                downloaded.append(parse_publication(data))
            except Error as exc:
                unreadable.append(Refusal(path, type(exc).__name__, str(exc)))
        outcome = fold(self._start, [*self._accepted, *downloaded], now, self._origin)
        self._keep(outcome)
        self._outcome = Outcome(outcome.view, outcome.accepted, (*unreadable, *outcome.refused))

    def poll(self) -> RefreshReport | None:
        """Refresh, returning None instead of raising when the refresh fails."""
        try:
            return self.refresh()
        except GovernanceRefreshError:
            return None

    @property
    def _origin(self) -> str:
        return self._provisioning.log_origin

    def _download(self) -> dict[str, bytes]:
        cached = self._tuf_dir / "root.json"
        bootstrap = cached.read_bytes() if cached.exists() else self._provisioning.tuf_root
        try:
            updater = Updater(
                metadata_dir=str(self._tuf_dir),
                metadata_base_url=f"{self._base}/metadata/",
                target_dir=str(self._targets_dir),
                target_base_url=f"{self._base}/targets/",
                fetcher=Urllib3Fetcher(socket_timeout=SOCKET_TIMEOUT_S),
                config=UpdaterConfig(app_user_agent="pausebutton-device"),
                bootstrap=bootstrap,
            )
            updater.refresh()
            listing = json.loads(self._fetch(updater, INDEX))
            paths = [str(p) for p in listing["targets"]][:MAX_TARGETS]
            return {path: self._fetch(updater, path) for path in paths}
        except (RepositoryError, DownloadError) as exc:
            raise GovernanceRefreshError(
                f"governance refresh from {self._base} refused: {type(exc).__name__}: {exc}"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GovernanceRefreshError(
                f"governance refresh from {self._base} failed: {type(exc).__name__}: {exc}"
            ) from exc

    @staticmethod
    def _fetch(updater: Updater, path: str) -> bytes:
        info = updater.get_targetinfo(path)
        if info is None:
            raise KeyError(f"the repository's targets do not list {path}")
        local = updater.find_cached_target(info) or updater.download_target(info)
        return Path(local).read_bytes()

    def _accepted_files(self) -> list[Path]:
        return sorted(self._accepted_dir.glob("*.json"))

    def _keep(self, outcome: Outcome) -> None:
        # Union, never pruned: a document once accepted is re-verified at every refresh
        # but never forgotten because the repository stopped listing it.
        known = {p.to_bytes() for p in self._accepted}
        for publication in outcome.accepted:
            data = publication.to_bytes()
            if data not in known:
                (self._accepted_dir / f"{sha256(data).hexdigest()}.json").write_bytes(data)
                self._accepted.append(publication)
                known.add(data)
