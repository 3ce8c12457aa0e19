"""Replay from an export: rebuild the registry projection from the log's entries alone, and compare.

The verifier applies entries [0, size) from any `LogSource` with the registry's own rules
(`registry.state.entry_records`, as `registry.replay` does for a live log) into a fresh
database, and compares its canonical dump (`registry.replay.dump`) with what the authority
publishes: either the digest of its projection, or a database holding it (then the first
differing dump line is reported). Replay trusts the entries it is given: audit the export
first (`verify.audit`), so that they are the ones the log's signed checkpoints commit to.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from pausebutton.errors import FormatError
from pausebutton.log.tiles import TILE_WIDTH
from pausebutton.registry.replay import compare, digest, live_size, replay_into, row_counts
from pausebutton.store.db import check_schema, make_engine
from pausebutton.verify.sources import LogSource

REPLAY_CHUNK = 40 * TILE_WIDTH
_DIGEST = re.compile(r"[0-9a-f]{64}")


class DumpDifference(BaseModel):
    """Where the published and the replayed dumps first differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    published: str
    replayed: str


class ReplayReport(BaseModel):
    """The outcome of replaying an export and comparing with the published projection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = "pausebutton.replay/v1"
    size: int
    replayed_digest: str
    published_digest: str
    equal: bool
    first_difference: DumpDifference | None = None
    rows: dict[str, int]


def replay_source(source: LogSource, size: int, url: str) -> Engine:
    """Apply entries [0, size) of `source` to a fresh registry in the database at `url`."""
    if size < 0:
        raise FormatError(f"cannot replay {size} entries")
    return replay_into(source, url, size)


def is_digest(text: str) -> bool:
    """Whether `text` is a projection digest (64 lowercase hex digits) rather than a URL."""
    return bool(_DIGEST.fullmatch(text))


def replay_and_compare(
    source: LogSource, url: str, published: str, size: int | None = None
) -> ReplayReport:
    """Replay `source` into `url`; compare with `published`, a digest or a database URL.

    With a database, `size` defaults to how far its projection got; with a digest, it
    must be given (the digest covers the size in its first dump line).
    """
    if is_digest(published):
        if size is None:
            raise FormatError("comparing with a digest needs the size it was taken at")
        replayed = replay_source(source, size, url)
        try:
            with replayed.connect() as conn:
                mine = digest(conn)
            counts = row_counts(replayed)
        finally:
            replayed.dispose()
        return ReplayReport(
            size=size,
            replayed_digest=mine,
            published_digest=published,
            equal=mine == published,
            rows=counts,
        )
    live = make_engine(published)
    try:
        check_schema(live)  # the authority's database is read, never migrated
        size = live_size(live) if size is None else size
        replayed = replay_source(source, size, url)
        try:
            result = compare(live, replayed)
            counts = row_counts(replayed)
        finally:
            replayed.dispose()
    finally:
        live.dispose()
    first = None
    if result.first_difference is not None:
        line, theirs, ours = result.first_difference
        first = DumpDifference(
            line=line,
            published=theirs.decode(errors="replace").rstrip("\n"),
            replayed=ours.decode(errors="replace").rstrip("\n"),
        )
    return ReplayReport(
        size=size,
        replayed_digest=result.replay_digest,
        published_digest=result.live_digest,
        equal=result.equal,
        first_difference=first,
        rows=counts,
    )
