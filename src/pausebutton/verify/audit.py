"""The log audit: are the signed checkpoints genuine, witnessed, and views of one growing tree?

`audit_log` reads checkpoints, tiles and entries from a `LogSource` and trusts only the
keys in an `AuditTrust`. It checks, and reports as findings with evidence:

1. each checkpoint's log signature and its witness cosignatures against the quorum;
2. no two signed checkpoints of one size disagree (else a *fork* proof);
3. the newest checkpoint the source serves is not smaller than one the log signed
   (*rollback*);
4. every entry hashes to its level-0 tile, every tile above holds the roots of the tiles
   below, and the entries themselves reproduce the newest checkpoint's root (and every
   other checkpoint's);
5. each checkpoint is extended by the next: a consistency path computed from a tree that
   reproduces the newer root must yield the older root (else a *non-extension* proof).

Fork and non-extension findings carry an `EquivocationProof` anyone can re-check with
the log's key alone. The audit never raises on bad data: it reports it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pausebutton.verify._checkpoints import (
    AuditState,
    Seen,
    b64,
    check_forks,
    check_rollback,
    collect,
)
from pausebutton.verify._datascan import Scan, TileView, check_partials, scan
from pausebutton.verify.equivocation import chain_consistency, non_extension_proof, seeded_ranges
from pausebutton.verify.findings import AuditResult, Evidence
from pausebutton.verify.sources import LogSource, SourcedCheckpoint
from pausebutton.verify.trust import AuditTrust


def audit_log(
    source: LogSource,
    trust: AuditTrust,
    *,
    known: Sequence[SourcedCheckpoint] = (),
    entries: bool = True,
) -> AuditResult:
    """Audit a log from `source`, trusting only `trust`; `known` adds checkpoints seen elsewhere.

    With `entries` False, only checkpoints and tiles are checked (no entry is read).
    """
    state = AuditState(source, trust)
    collect(state, known)
    check_forks(state)
    head = check_rollback(state)
    data = _check_tree(state, head, entries) if head is not None else Scan()
    statuses = sorted((s.status for s in state.seen.values()), key=lambda s: (s.size, s.root))
    return AuditResult(
        origin=trust.origin,
        source=repr(source),
        quorum=trust.quorum,
        witness_keys=len(set(trust.witness_keys)),
        head_size=head,
        entries_checked=data.entries,
        tiles_checked=data.tiles,
        checkpoints=statuses,
        findings=state.findings.close(),
        equivocations=state.equivocations,
    )


def _check_tree(state: AuditState, head: int, with_entries: bool) -> Scan:
    """Check entries and tiles up to `head`, each checkpoint's root, and consistency."""
    inside = sorted(
        (s for s in state.seen.values() if 0 < s.cp.size <= head), key=lambda s: s.cp.size
    )
    data = Scan()
    if with_entries and head:
        data = scan(state.source, head, [s.cp.size for s in inside], state.findings)
    # The exported tiles, and the tiles as the entries make them: a checkpoint whose root
    # one of them reproduces is "in the tree", and proofs about it come from that one.
    views = [TileView(state.source, head)]
    if data.corrections:
        views.append(TileView(state.source, head, data.corrections))
    reproduced: dict[str, TileView] = {}
    for seen in inside:
        roots = [v.root(seen.cp.size) for v in views]
        seen.status.root_from_tiles = roots[0] == seen.cp.root_hash
        if with_entries:
            seen.status.root_from_entries = data.roots.get(seen.cp.size) == seen.cp.root_hash
        reproducing = [v for v, r in zip(views, roots, strict=True) if r == seen.cp.root_hash]
        if reproducing:
            reproduced[seen.note] = reproducing[0]
    sizes = [s.cp.size for s in inside]
    data.tiles += check_partials(
        state.source, views[-1], sizes, state.findings, entries=with_entries
    )
    if state.head is not None and state.head.cp.size:
        _head_roots(state, state.head, data, with_entries)
        _disagreements(state, state.head, data)
    _consistency(state, inside, reproduced)
    return data


def _head_roots(state: AuditState, head: Seen, data: Scan, with_entries: bool) -> None:
    size = head.cp.size
    evidence: Evidence = {"size": size, "root": b64(head.cp.root_hash)}
    if not head.status.root_from_tiles:
        state.findings.add(
            "root-mismatch",
            f"tiles/{size}",
            "error",
            f"the exported tiles do not reproduce the root of the newest checkpoint, at size "
            f"{size}",
            evidence,
        )
    if with_entries and not head.status.root_from_entries:
        found = data.roots.get(size)
        state.findings.add(
            "root-mismatch",
            f"entries/{size}",
            "error",
            f"the entries do not reproduce the root of the newest checkpoint, at size {size}"
            + ("" if found else " (some are missing)"),
            {**evidence, "from_entries": b64(found) if found else None},
        )


def _disagreements(state: AuditState, head: Seen, data: Scan) -> None:
    # Entries that reproduce the signed root are the log's (SHA-256 is collision
    # resistant), so a tile that disagrees with them is wrong; otherwise the entry is.
    if data.disagreeing:
        state.findings.add(
            "leaf-disagreements",
            "count",
            "error",
            f"{data.disagreeing} entries do not hash to the leaf hashes in their tiles",
            {"count": data.disagreeing, "listed": len(data.disagreements)},
        )
    for index, in_tile, of_entry in data.disagreements:
        evidence: Evidence = {
            "index": index,
            "tile_hash": b64(in_tile),
            "entry_hash": b64(of_entry),
        }
        if head.status.root_from_entries:
            state.findings.add(
                "tile-mismatch",
                f"0/{index // 256}",
                "error",
                f"level-0 tile {index // 256} holds a wrong hash for entry {index}; "
                "the entries reproduce the signed root",
                evidence,
            )
        else:
            why = "the tiles do" if head.status.root_from_tiles else "nor do the tiles"
            state.findings.add(
                "entry-mismatch",
                str(index),
                "error",
                f"entry {index} does not hash to its level-0 tile hash; the entries do not "
                f"reproduce the signed root, {why}",
                evidence,
            )


def _consistency(state: AuditState, inside: list[Seen], reproduced: dict[str, TileView]) -> None:
    """Prove each checkpoint extended by the next one in the tree, or prove it is not."""
    unverified: list[int] = []
    in_tree = {s.cp.size for s in inside if s.note in reproduced}
    for i, old in enumerate(inside):
        if old.note not in reproduced and old.cp.size in in_tree:
            continue  # a fork's other branch: the fork proof covers it
        new = next(
            (s for s in inside[i + 1 :] if s.cp.size > old.cp.size and s.note in reproduced),
            None,
        )
        if new is None:
            if old.note not in reproduced:
                unverified.append(old.cp.size)
            continue
        path = reproduced[new.note].hashes(seeded_ranges(old.cp.size, new.cp.size))
        if path is None:
            unverified.append(old.cp.size)
            continue
        first, last = chain_consistency(old.cp.size, new.cp.size, path)
        if last != new.cp.root_hash:
            unverified.append(old.cp.size)
        elif first == old.cp.root_hash:
            for seen in (old, new):
                if seen.status.consistent is None:
                    seen.status.consistent = True
        else:
            old.status.consistent = False
            state.equivocation(
                non_extension_proof(old.note, new.note, path),
                "non-extension",
                f"{old.cp.size}-{new.cp.size}",
                f"the checkpoint at size {new.cp.size} does not extend the one at size "
                f"{old.cp.size}: the log rewrote its history",
                {
                    "old_size": old.cp.size,
                    "new_size": new.cp.size,
                    "old_root": b64(old.cp.root_hash),
                    "prefix_root": b64(first),
                },
            )
    if unverified:
        sizes = ", ".join(map(str, unverified[:8]))
        state.findings.add(
            "consistency-unchecked",
            ",".join(map(str, unverified[:8])),
            "error",
            f"no tree that reproduces a newer signed root covers the checkpoint(s) at size {sizes}",
            {"sizes": unverified},
        )
