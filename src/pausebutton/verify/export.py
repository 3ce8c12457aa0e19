"""`pausebutton log export`: the log as a static C2SP tlog-tiles directory an auditor can read.

The export is of the tree at the newest signed checkpoint (entries appended since are not
yet committed to by any signature). It holds every full tile and entry bundle, and the
partial ones each stored checkpoint needs until their full tile exists (the tlog-tiles
rule); every signed checkpoint with its cosignatures; and, with `parquet`, one row per
entry for SQL analytics. Tiles and bundles are immutable (a partial one has its width in
its name), so a rerun writes only what is new, rewrites only checkpoints that gained
cosignatures, and deletes partials whose full tile has arrived. Each file is written to a
temporary name and renamed, so an interrupted export leaves no truncated file; the
``checkpoint`` file is written last, so it never names data that is not there yet.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pausebutton.errors import StoreError
from pausebutton.log import merkle
from pausebutton.log.tiles import TILE_WIDTH, entries_path, tile_path, tile_widths
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import EVENT_PAYLOAD_TYPE
from pausebutton.store.models import checkpoints as checkpoints_table
from pausebutton.verify.layout import (
    CHECKPOINT_FILE,
    CHECKPOINTS_DIR,
    PARQUET_FILE,
    encode_bundle,
    partial_tiles,
)

PARQUET_CHUNK = 10_000
PARQUET_COLUMNS = "idx UBIGINT, leaf_hash BLOB, type VARCHAR, actor VARCHAR, time BIGINT, data BLOB"
"""The ``entries`` table in ``entries.parquet``; type, actor and time are NULL for non-events."""


@dataclass
class ExportSummary:
    """What one export run did: the tree size exported, and the paths written and removed."""

    size: int
    checkpoints: int
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class _Writer:
    def __init__(self, root: Path, summary: ExportSummary) -> None:
        self.root, self.summary = root, summary

    def write(self, relative: str, data: bytes, *, replace: bool = False) -> None:
        path = self.root / relative
        if path.is_file() and (not replace or path.read_bytes() == data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".tmp-{path.name}")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.summary.written.append(relative)

    def remove_partials(self, full_path: str) -> None:
        partials = self.root / f"{full_path}.p"
        if partials.is_dir():
            shutil.rmtree(partials)
            self.summary.removed.append(f"{full_path}.p/")


def stored_checkpoints(log: TransparencyLog) -> list[tuple[int, str]]:
    """Return (size, signed note with every stored cosignature) of each stored checkpoint."""
    with log.engine.connect() as conn:
        sizes = [int(r.size) for r in conn.execute(select(checkpoints_table.c.size))]
    return [(size, log.cosigned_checkpoint(size)) for size in sorted(sizes)]


def export_log(log: TransparencyLog, directory: Path, *, parquet: bool = False) -> ExportSummary:
    """Export the log up to its newest checkpoint into `directory`; rerun it to update."""
    stored = stored_checkpoints(log)
    if not stored:
        raise StoreError("the log has no signed checkpoint yet: sign one first")
    size, head = stored[-1]
    summary = ExportSummary(size=size, checkpoints=len(stored))
    writer = _Writer(directory, summary)
    _write_tiles(log, writer, size, [s for s, _ in stored])
    for at, text in stored:
        writer.write(f"{CHECKPOINTS_DIR}/{at}", text.encode(), replace=True)
    if parquet and write_parquet(log, size, directory / PARQUET_FILE):
        summary.written.append(PARQUET_FILE)
    writer.write(CHECKPOINT_FILE, head.encode(), replace=True)
    return summary


def _write_tiles(log: TransparencyLog, writer: _Writer, size: int, sizes: list[int]) -> None:
    """Write full tiles and bundles up to `size`, and the partials each checkpoint size needs."""
    wanted: dict[tuple[int, int], set[int]] = {}
    level = 0
    while level_tiles := tile_widths(size, level):
        for index, width in level_tiles:
            wanted.setdefault((level, index), set()).add(width)
        level += 1
    for at in sizes:
        for level, index, width in partial_tiles(at):
            widths = wanted.get((level, index))
            if widths is not None and TILE_WIDTH not in widths:
                widths.add(width)
    for (level, index), widths in sorted(wanted.items()):
        paths = {w: tile_path(level, index, w) for w in widths}
        bundles = {w: entries_path(index, w) for w in widths} if level == 0 else {}
        missing = [w for w in widths if not (writer.root / paths[w]).is_file()]
        missing_bundles = [w for w, p in bundles.items() if not (writer.root / p).is_file()]
        if missing:
            blob = log.tile(level, index)
            for w in missing:
                data = blob[: w * merkle.HASH_SIZE]
                if len(data) != w * merkle.HASH_SIZE:
                    raise StoreError(f"tile {level}/{index} is shorter than width {w}")
                writer.write(paths[w], data)
        if missing_bundles:
            first = index * TILE_WIDTH
            entries = log.entries(first, first + max(missing_bundles))
            for w in missing_bundles:
                writer.write(bundles[w], encode_bundle(entries[:w]))
        if TILE_WIDTH in widths:
            writer.remove_partials(paths[TILE_WIDTH])
            if level == 0:
                writer.remove_partials(bundles[TILE_WIDTH])


def event_columns(entry: bytes) -> tuple[str | None, str | None, int | None]:
    """Return (type, actor, time) of an entry that is a signed event, else three Nones."""
    try:
        value: Any = json.loads(entry)
    except ValueError:
        return None, None, None
    if not isinstance(value, dict) or value.get("payload_type") != EVENT_PAYLOAD_TYPE:
        return None, None, None
    body = value.get("payload")
    if not isinstance(body, dict):
        return None, None, None
    kind, actor, time = body.get("type"), body.get("actor"), body.get("time")
    return (
        kind if isinstance(kind, str) else None,
        actor if isinstance(actor, str) else None,
        time if isinstance(time, int) and not isinstance(time, bool) else None,
    )


def write_parquet(log: TransparencyLog, size: int, path: Path) -> bool:
    """Write entries [0, size) to `path` as Parquet with DuckDB, unless it already holds them."""
    try:
        import duckdb
    except ImportError:
        raise StoreError("writing Parquet needs DuckDB: pip install duckdb") from None
    con = duckdb.connect()
    try:
        quoted = "'" + str(path).replace("'", "''") + "'"
        if path.is_file():
            rows = con.execute(f"SELECT count(*) FROM read_parquet({quoted})").fetchone()
            if rows is not None and rows[0] == size:
                return False
        con.execute(f"CREATE TABLE entries ({PARQUET_COLUMNS})")
        appender = con.appender("entries")
        for low in range(0, size, PARQUET_CHUNK):
            high = min(size, low + PARQUET_CHUNK)
            appender.append_rows(
                [
                    (i, merkle.leaf_hash(e), *event_columns(e), e)
                    for i, e in enumerate(log.entries(low, high), start=low)
                ]
            )
        appender.flush()
        temporary = path.with_name(f".tmp-{path.name}")
        quoted_tmp = "'" + str(temporary).replace("'", "''") + "'"
        con.execute(f"COPY entries TO {quoted_tmp} (FORMAT parquet)")
        os.replace(temporary, path)
    finally:
        con.close()
    return True
