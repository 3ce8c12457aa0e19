"""The transparency log: batched durable appends, proofs from stored tiles, signed checkpoints.

Every append is one database transaction that writes the entries, the hash tiles they
change and the new size together, so an append is either wholly there or not at all, and
is durable once `append` returns. Roots and proofs at any size read O(log n) tiles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from hashlib import sha256

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from pausebutton.errors import FormatError, NoteError, ProofError, StoreError
from pausebutton.log import merkle, note
from pausebutton.log.checkpoint import Checkpoint, sign_checkpoint
from pausebutton.log.cosignature import CosignatureVerifier, cosignatures
from pausebutton.log.note import Signer
from pausebutton.log.proofs import ConsistencyBundle, InclusionBundle, encode_hashes
from pausebutton.log.tiles import (
    StoredTile,
    TileHasher,
    TileKey,
    append_hashes,
    edge_tiles,
    tiles_for_ranges,
)
from pausebutton.store.db import open_database, write_transaction
from pausebutton.store.models import checkpoints, log_entries, log_head, log_tiles
from pausebutton.store.models import cosignatures as cosignatures_table

# A C2SP entry bundle prefixes each entry with a uint16 length, so 65,535 is the most.
MAX_ENTRY_BYTES = 0xFFFF
MAX_BATCH_ENTRIES = 100_000

Hook = Callable[[Connection, int], None]


class TransparencyLog:
    """An append-only RFC 9162 log stored as C2SP tiles in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, origin: str, signer: Signer | None = None) -> None:
        self.engine = engine
        self.origin = origin
        self.signer = signer
        self._hasher = TileHasher()
        if signer is not None and signer.name != origin:
            # Checkpoints are signed under the origin's name; witnesses look the key up by it.
            raise FormatError(f"the log's key is named {signer.name!r}, not its origin {origin!r}")
        with write_transaction(engine) as conn:
            row = conn.execute(select(log_head.c.origin).where(log_head.c.id == 1)).first()
            if row is None:
                conn.execute(insert(log_head).values(id=1, origin=origin, size=0))
            elif row.origin != origin:
                raise StoreError(f"database holds the log {row.origin!r}, not {origin!r}")

    @classmethod
    def open(cls, url: str, origin: str, signer: Signer | None = None) -> TransparencyLog:
        """Open (creating and migrating if needed) the log stored at database `url`."""
        return cls(open_database(url), origin, signer)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @property
    def size(self) -> int:
        """The number of committed entries."""
        with self.engine.connect() as conn:
            return _head_size(conn)

    # -- writing -------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes], *, within: Hook | None = None) -> int:
        """Append entries in one transaction and return the leaf index of the first.

        `within(conn, first_index)` runs inside the same transaction, so rows that index
        the entries (events, projections) commit or vanish with them. The entries are
        durable when this returns.
        """
        with write_transaction(self.engine) as conn:
            first = self.append_in(conn, entries)
            if within is not None:
                within(conn, first)
        return first

    def append_in(self, conn: Connection, entries: Sequence[bytes]) -> int:
        """Append entries inside the caller's write transaction; return the first index."""
        if not entries:
            raise FormatError("nothing to append: the batch is empty")
        if len(entries) > MAX_BATCH_ENTRIES:
            raise FormatError(f"batch of {len(entries)} entries exceeds {MAX_BATCH_ENTRIES}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, bytes):
                raise FormatError(f"entry {i} is {type(entry).__name__}, not bytes")
            if len(entry) > MAX_ENTRY_BYTES:
                raise FormatError(f"entry {i} is {len(entry)} bytes, over {MAX_ENTRY_BYTES}")
        size = _head_size(conn, for_update=True)
        # The right edge is reread inside the transaction, never cached: another worker
        # may have appended, or an earlier transaction of ours may have rolled back.
        edge = _read_edge(conn, size)
        existing = {key for key, _ in edge_tiles(size)}
        changed = append_hashes(size, edge, [sha256(b"\x00" + e).digest() for e in entries])
        _insert_entries(conn, size, entries)
        _write_tiles(conn, changed, existing)
        conn.execute(update(log_head).where(log_head.c.id == 1).values(size=size + len(entries)))
        return size

    # -- reading -------------------------------------------------------------------------

    def entry(self, index: int) -> bytes:
        """Return the entry at leaf `index`."""
        return self.entries(index, index + 1)[0]

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Return entries [start, stop) in order."""
        if not 0 <= start < stop:
            raise FormatError(f"entry range [{start}, {stop}) is empty or negative")
        with self.engine.connect() as conn:
            size = _head_size(conn)
            if stop > size:
                raise FormatError(f"entry range [{start}, {stop}) is beyond the log size {size}")
            rows = conn.execute(
                select(log_entries.c.data)
                .where(log_entries.c.idx >= start, log_entries.c.idx < stop)
                .order_by(log_entries.c.idx)
            ).all()
        return [bytes(r.data) for r in rows]

    def tile(self, level: int, index: int) -> bytes:
        """Return the stored bytes of hash tile `level/index` (for C2SP tile serving)."""
        with self.engine.connect() as conn:
            tile = _read_tiles(conn, [(level, index)]).get((level, index))
        if tile is None:
            raise FormatError(f"no tile {level}/{index}")
        return tile[0]

    def _hash_ranges(
        self, ranges: Sequence[tuple[int, int]], size: int | None
    ) -> tuple[int, list[bytes]]:
        with self.engine.connect() as conn:
            committed = _head_size(conn)
            size = committed if size is None else size
            if not 0 <= size <= committed:
                raise ProofError(f"tree size {size} is beyond the log size {committed}")
            tiles = _read_tiles(conn, sorted(tiles_for_ranges(ranges)))
        return size, self._hasher.ranges_hashes(ranges, tiles)

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash at `size` (default: the current size)."""
        size = self.size if size is None else size
        if size == 0:
            return merkle.EMPTY_ROOT
        return self._hash_ranges([(0, size)], size)[1][0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves."""
        size = self.size if size is None else size
        return self._hash_ranges(merkle.inclusion_ranges(index, size), size)[1]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof from `old_size` to `new_size` leaves."""
        new_size = self.size if new_size is None else new_size
        return self._hash_ranges(merkle.consistency_ranges(old_size, new_size), new_size)[1]

    # -- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, now: int | None = None) -> str:
        """Sign (once) and store a checkpoint at the current size; return its signed note."""
        if self.signer is None:
            raise StoreError("this log was opened without its signing key")
        with write_transaction(self.engine) as conn:
            size = _head_size(conn, for_update=True)
            row = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).first()
            if row is not None:
                return str(row.note)
            tiles = _read_tiles(conn, sorted(tiles_for_ranges([(0, size)]))) if size else {}
            root = self._hasher.range_hash(0, size, tiles) if size else merkle.EMPTY_ROOT
            text = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
            conn.execute(
                insert(checkpoints).values(
                    size=size, note=text, created=int(time.time() if now is None else now)
                )
            )
        return text

    def inclusion_bundle(self, index: int) -> InclusionBundle:
        """Prove leaf `index` against the newest checkpoint, signing one if none covers it."""
        if not 0 <= index < self.size:
            raise ProofError(f"leaf index {index} is out of range for a log of size {self.size}")
        size, text = self._newest_checkpoint()
        if size <= index:
            text = self.checkpoint()
            size = Checkpoint.parse(note.verify(text, [self._verifier()]).text).size
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is out of range for a log of size {size}")
        return InclusionBundle(
            index=index,
            leaf_hash=encode_hashes([merkle.leaf_hash(self.entry(index))])[0],
            proof=encode_hashes(self.inclusion_proof(index, size)),
            checkpoint=text,
        )

    def consistency_bundle(self, old_size: int, new_size: int | None = None) -> ConsistencyBundle:
        """Prove that the checkpoint at `new_size` (default: the newest) extends `old_size`'s."""
        old = self.checkpoint_at(old_size)
        if new_size is None:
            new_size, new = self._newest_checkpoint()
        else:
            new = self.checkpoint_at(new_size) or ""
        if old is None or not new:
            raise ProofError(
                f"no signed checkpoint at size {old_size if old is None else new_size}"
            )
        return ConsistencyBundle(
            old_checkpoint=old,
            new_checkpoint=new,
            proof=encode_hashes(self.consistency_proof(old_size, new_size)),
        )

    def add_cosignatures(self, cosigned_note: str, witnesses: Sequence[CosignatureVerifier]) -> int:
        """Verify witnesses' cosignatures on one of our checkpoints and store the new ones."""
        opened = note.verify(cosigned_note, [self._verifier(), *witnesses])
        if not any(s.name == self.origin for s in opened.sigs):
            raise NoteError("the cosigned note does not carry this log's own signature")
        cp = Checkpoint.parse(opened.text)
        stored = self.checkpoint_at(cp.size)
        if stored is None or note.verify(stored, [self._verifier()]).text != opened.text:
            raise NoteError(f"the log never signed this checkpoint at size {cp.size}")
        found = cosignatures(opened, witnesses)
        added = 0
        with write_transaction(self.engine) as conn:
            known = {
                (r.witness, r.key_id)
                for r in conn.execute(
                    select(cosignatures_table.c.witness, cosignatures_table.c.key_id).where(
                        cosignatures_table.c.size == cp.size
                    )
                )
            }
            for c in found:
                key = (c.name, f"{c.key_id:08x}")
                if key in known:
                    continue
                conn.execute(
                    insert(cosignatures_table).values(
                        size=cp.size,
                        witness=c.name,
                        key_id=key[1],
                        line=c.to_line(),
                        timestamp=c.timestamp,
                    )
                )
                added += 1
        return added

    def cosigned_checkpoint(self, size: int) -> str:
        """Return the checkpoint at `size` with every stored witness cosignature appended."""
        text = self.checkpoint_at(size)
        if text is None:
            raise ProofError(f"no signed checkpoint at size {size}")
        with self.engine.connect() as conn:
            lines = conn.execute(
                select(cosignatures_table.c.line)
                .where(cosignatures_table.c.size == size)
                .order_by(cosignatures_table.c.witness, cosignatures_table.c.key_id)
            ).all()
        return text + "".join(str(r.line) for r in lines)

    def _verifier(self) -> note.Verifier:
        if self.signer is None:
            raise StoreError("this log was opened without its signing key")
        return self.signer.verifier()

    def _newest_checkpoint(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(checkpoints.c.size, checkpoints.c.note)
                .order_by(checkpoints.c.size.desc())
                .limit(1)
            ).first()
        return (0, "") if row is None else (int(row.size), str(row.note))

    def latest_checkpoint(self) -> str | None:
        """Return the signed note of the newest stored checkpoint, if any."""
        return self._newest_checkpoint()[1] or None

    def checkpoint_at(self, size: int) -> str | None:
        """Return the signed checkpoint stored for exactly `size`, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).first()
        return None if row is None else str(row.note)


def _head_size(conn: Connection, *, for_update: bool = False) -> int:
    query = select(log_head.c.size).where(log_head.c.id == 1)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise StoreError("the log has no head row: open it through TransparencyLog")
    return int(row.size)


# One cached statement per tile level: it seeks the primary key on SQLite and PostgreSQL
# alike (a row-value IN over (level, idx) makes SQLite scan the whole table).
_TILES_AT_LEVEL = select(log_tiles.c.idx, log_tiles.c.hashes, log_tiles.c.inner).where(
    log_tiles.c.level == bindparam("level"), log_tiles.c.idx.in_(bindparam("ids", expanding=True))
)


def _insert_entries(conn: Connection, first: int, entries: Sequence[bytes]) -> None:
    # The hot path of every append: hand the rows straight to the driver's executemany,
    # which is several times faster than SQLAlchemy's per-row parameter processing.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {log_entries.name} (idx, data) VALUES ({mark}, {mark})",
        list(zip(range(first, first + len(entries)), entries, strict=True)),
    )


def _read_edge(conn: Connection, size: int) -> dict[int, bytes]:
    keys = edge_tiles(size)
    stored = _read_tiles(conn, [key for key, _ in keys])
    edge: dict[int, bytes] = {}
    for (level, index), width in keys:
        tile = stored.get((level, index))
        if tile is None or len(tile[0]) < width * merkle.HASH_SIZE:
            raise StoreError(f"tile {level}/{index} is missing or short at size {size}")
        edge[level] = tile[0][: width * merkle.HASH_SIZE]
    return edge


def _read_tiles(conn: Connection, keys: Sequence[TileKey]) -> dict[TileKey, StoredTile]:
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        by_level.setdefault(level, []).append(index)
    tiles: dict[TileKey, StoredTile] = {}
    for level, indexes in by_level.items():
        for r in conn.execute(_TILES_AT_LEVEL, {"level": level, "ids": indexes}):
            tiles[(level, int(r.idx))] = (
                bytes(r.hashes),
                None if r.inner is None else bytes(r.inner),
            )
    return tiles


def _write_tiles(
    conn: Connection, changed: dict[TileKey, StoredTile], existing: set[TileKey]
) -> None:
    rows = [
        {"level": level, "idx": index, "hashes": blob, "inner": inner}
        for (level, index), (blob, inner) in changed.items()
    ]
    inserts = [r for r in rows if (r["level"], r["idx"]) not in existing]
    if inserts:
        conn.execute(insert(log_tiles), inserts)
    for row in rows:
        if (row["level"], row["idx"]) in existing:
            conn.execute(
                update(log_tiles)
                .where(log_tiles.c.level == row["level"], log_tiles.c.idx == row["idx"])
                .values(hashes=row["hashes"], inner=row["inner"])
            )
