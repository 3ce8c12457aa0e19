"""Benchmark pausebutton's transparency log against the peer library pymerkle, side by side.

Run: ``.venv/bin/python bench/log.py [--entries N] [--batch B] [--proofs P]``.

Every implementation does the same work on the same data: append N entries of 300 random
bytes in batches of B (one durable transaction per batch where persisted), then prove
inclusion and consistency at P random challenges (leaf index and tree size up to N), then
verify every proof it made. The roots of all implementations are cross-checked at every
challenge size: they hash by RFC 9162 (SHA-256, 0x00 leaf and 0x01 node prefixes), so they
must agree to the byte.

Peers: pymerkle's ``SqliteTree`` on a temporary file (persisted, like ours) and its
``InmemoryTree`` (nothing persisted, a lower bound). pymerkle's SQLite tree computes
subtree hashes from the stored leaves on demand (with an LRU subroot cache, left at its
defaults), so its proofs get slow at large sizes; ``--peer-proofs`` caps how many it is
asked for.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pymerkle
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

try:
    from pausebutton.log import merkle, note, tlog
except ImportError as exc:  # the log is still being written
    PAUSEBUTTON_IMPORT_ERROR: ImportError | None = exc
else:
    PAUSEBUTTON_IMPORT_ERROR = None

T = TypeVar("T")
ENTRY_SIZE = 300
ORIGIN = "bench.example/log"
PAUSEBUTTON = "pausebutton"
PEER_SQLITE = "pymerkle-sqlite"
PEER_MEMORY = "pymerkle-memory"


# --------------------------------------------------------------------------- subjects


class Subject(Protocol):
    """One log implementation under test. Indices count from zero, sizes are leaf counts."""

    name: str

    def append(self, entries: list[bytes]) -> None: ...
    def root(self, size: int) -> bytes: ...
    def prove_inclusion(self, index: int, size: int) -> Any: ...
    def prove_consistency(self, old_size: int, new_size: int) -> Any: ...
    def verify_inclusion(
        self, entry: bytes, index: int, size: int, proof: Any, root: bytes
    ) -> None: ...
    def verify_consistency(
        self, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Any
    ) -> None: ...
    def close(self) -> None: ...


class PausebuttonSubject:
    """pausebutton's TransparencyLog on SQLite."""

    name = PAUSEBUTTON

    def __init__(self, path: Path) -> None:
        signer = note.Signer.generate(ORIGIN)
        self._log = tlog.TransparencyLog.open(f"sqlite:///{path}", origin=ORIGIN, signer=signer)

    def append(self, entries: list[bytes]) -> None:
        self._log.append(entries)

    def root(self, size: int) -> bytes:
        return self._log.root(size)

    def prove_inclusion(self, index: int, size: int) -> list[bytes]:
        return self._log.inclusion_proof(index, size)

    def prove_consistency(self, old_size: int, new_size: int) -> list[bytes]:
        return self._log.consistency_proof(old_size, new_size)

    def verify_inclusion(
        self, entry: bytes, index: int, size: int, proof: list[bytes], root: bytes
    ) -> None:
        merkle.verify_inclusion(merkle.leaf_hash(entry), index, size, proof, root)

    def verify_consistency(
        self, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
    ) -> None:
        merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)

    def sqlite_settings(self) -> str:
        """Journal mode and synchronous level of the log's SQLite connections."""
        with self._log.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        return _describe_sqlite(journal, synchronous)

    def close(self) -> None:
        self._log.close()


class PymerkleSubject:
    """A pymerkle tree. pymerkle counts leaves from one, so indices are shifted here."""

    def __init__(self, name: str, tree: pymerkle.BaseMerkleTree) -> None:
        self.name = name
        self.tree = tree

    def append(self, entries: list[bytes]) -> None:
        self.tree.append_entries(entries)

    def root(self, size: int) -> bytes:
        root: bytes = self.tree.get_root(size)
        return root

    def prove_inclusion(self, index: int, size: int) -> pymerkle.InclusionProof:
        return self.tree.prove_inclusion(index + 1, size)

    def prove_consistency(self, old_size: int, new_size: int) -> pymerkle.ConsistencyProof:
        return self.tree.prove_consistency(old_size, new_size)

    def verify_inclusion(
        self, entry: bytes, index: int, size: int, proof: pymerkle.InclusionProof, root: bytes
    ) -> None:
        leaf = self.tree.hash_buff(entry)
        pymerkle.verify_inclusion(leaf, root, proof, index=index + 1, size=size)

    def verify_consistency(
        self,
        old_size: int,
        new_size: int,
        old_root: bytes,
        new_root: bytes,
        proof: pymerkle.ConsistencyProof,
    ) -> None:
        pymerkle.verify_consistency(
            old_root, new_root, proof, prior_size=old_size, later_size=new_size
        )

    def close(self) -> None:
        if isinstance(self.tree, pymerkle.SqliteTree):
            self.tree.close()


# --------------------------------------------------------------------------- data


def batch_entries(seed: int, batch_no: int, batch: int) -> list[bytes]:
    """The entries of one full batch, a pure function of (seed, batch number)."""
    data = random.Random(f"{seed}:{batch_no}").randbytes(ENTRY_SIZE * batch)
    return [data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE)]


def entry_at(seed: int, batch: int, index: int) -> bytes:
    """The entry appended at ``index`` (regenerated, so the bench holds no copy of the log)."""
    return batch_entries(seed, index // batch, batch)[index % batch]


@dataclass(frozen=True)
class Challenges:
    """Random proof challenges, shared by all subjects."""

    inclusion: list[tuple[int, int]]  # (index, size)
    consistency: list[tuple[int, int]]  # (old_size, new_size)

    @classmethod
    def draw(cls, seed: int, entries: int, count: int) -> Challenges:
        rng = random.Random(f"{seed}:challenges")
        inclusion = []
        for _ in range(count):
            size = rng.randint(1, entries)
            inclusion.append((rng.randrange(size), size))
        consistency = []
        for _ in range(count):
            new = rng.randint(min(2, entries), entries)
            consistency.append((rng.randint(1, max(1, new - 1)), new))
        return cls(inclusion, consistency)


# --------------------------------------------------------------------------- measuring


@dataclass
class Latency:
    """Latency figures in milliseconds."""

    count: int
    median_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Latency:
        ordered = sorted(samples_ns)
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        return cls(
            len(ordered),
            statistics.median(ordered) / 1e6,
            p95 / 1e6,
            statistics.fmean(ordered) / 1e6,
        )


@dataclass
class Figures:
    """What one subject measured."""

    appends_per_s: float
    append_seconds: float
    inclusion: Latency
    consistency: Latency
    verify_inclusion: Latency
    verify_consistency: Latency
    roots: dict[int, bytes] = field(default_factory=dict, repr=False)

    def cycle_seconds(self, proofs: int) -> float:
        """The whole cycle: all appends, then `proofs` proofs of each kind (mean x count)."""
        return (
            self.append_seconds + proofs * (self.inclusion.mean_ms + self.consistency.mean_ms) / 1e3
        )


def _timed(call: Callable[..., T], *args: Any) -> tuple[T, int]:
    start = time.perf_counter_ns()
    result = call(*args)
    return result, time.perf_counter_ns() - start


def run_subject(
    subject: Subject,
    args: argparse.Namespace,
    challenges: Challenges,
    proofs: int,
    progress: Progress,
) -> Figures:
    """Append, prove and verify with one subject; return its figures."""
    n, b, seed = args.entries, args.batch, args.seed
    batches = math.ceil(n / b)
    task = progress.add_task(f"{subject.name}: append", total=n)
    append_ns = 0
    for batch_no in range(batches):
        entries = batch_entries(seed, batch_no, b)[: min(b, n - batch_no * b)]
        _, elapsed = _timed(subject.append, entries)
        append_ns += elapsed
        progress.advance(task, len(entries))

    # A big heap (pymerkle's memory tree holds millions of objects) makes every later
    # garbage collection scan it; freeze it so proofs and verification are not billed for it.
    gc.collect()
    gc.freeze()
    inclusion = challenges.inclusion[:proofs]
    consistency = challenges.consistency[:proofs]
    task = progress.add_task(f"{subject.name}: prove", total=2 * len(inclusion))
    inclusion_proofs, inclusion_ns = [], []
    for index, size in inclusion:
        proof, elapsed = _timed(subject.prove_inclusion, index, size)
        inclusion_proofs.append(proof)
        inclusion_ns.append(elapsed)
        progress.advance(task)
    consistency_proofs, consistency_ns = [], []
    for old, new in consistency:
        proof, elapsed = _timed(subject.prove_consistency, old, new)
        consistency_proofs.append(proof)
        consistency_ns.append(elapsed)
        progress.advance(task)

    sizes = {n} | {s for _, s in inclusion} | {s for pair in consistency for s in pair}
    task = progress.add_task(f"{subject.name}: roots (untimed)", total=len(sizes))
    roots = {}
    for size in sorted(sizes):
        roots[size] = subject.root(size)
        progress.advance(task)

    task = progress.add_task(f"{subject.name}: verify", total=2 * len(inclusion))
    verify_inclusion_ns = []
    for (index, size), proof in zip(inclusion, inclusion_proofs, strict=True):
        entry = entry_at(seed, b, index)
        root = roots[size]
        _, elapsed = _timed(subject.verify_inclusion, entry, index, size, proof, root)
        verify_inclusion_ns.append(elapsed)
        progress.advance(task)
    verify_consistency_ns = []
    for (old, new), proof in zip(consistency, consistency_proofs, strict=True):
        old_root, new_root = roots[old], roots[new]
        _, elapsed = _timed(subject.verify_consistency, old, new, old_root, new_root, proof)
        verify_consistency_ns.append(elapsed)
        progress.advance(task)

    gc.unfreeze()
    return Figures(
        appends_per_s=n / (append_ns / 1e9),
        append_seconds=append_ns / 1e9,
        inclusion=Latency.of(inclusion_ns),
        consistency=Latency.of(consistency_ns),
        verify_inclusion=Latency.of(verify_inclusion_ns),
        verify_consistency=Latency.of(verify_consistency_ns),
        roots=roots,
    )


def cross_check_roots(results: dict[str, Figures]) -> int:
    """Raise unless every subject computed the same root at every size they share."""
    names = list(results)
    checked = 0
    for other in names[1:]:
        shared = results[names[0]].roots.keys() & results[other].roots.keys()
        for size in shared:
            if results[names[0]].roots[size] != results[other].roots[size]:
                raise SystemExit(f"roots differ at size {size}: {names[0]} vs {other}")
        checked += len(shared)
    return checked


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    """CPU model, cores and platform."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform()}


def versions() -> dict[str, str]:
    """Versions of everything measured."""
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in ("pausebutton", "pymerkle", "sqlalchemy", "rich"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _sqlite_defaults() -> str:
    """Journal mode and synchronous level a fresh connection gets, as pymerkle opens it."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = pymerkle.SqliteTree(str(Path(tmp) / "probe.db"))
        try:
            journal = tree.con.execute("PRAGMA journal_mode").fetchone()
            synchronous = tree.con.execute("PRAGMA synchronous").fetchone()
        finally:
            tree.close()
    return _describe_sqlite(journal, synchronous)


def _describe_sqlite(journal: object, synchronous: object) -> str:
    levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    level = levels.get(synchronous, synchronous) if isinstance(synchronous, int) else synchronous
    return f"journal_mode={journal}, synchronous={level}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or not theirs:
        return "-"
    return f"{ours / theirs:.2f}"


def report(results: dict[str, Figures], args: argparse.Namespace, peer_proofs: int) -> Table:
    """The side-by-side table; ratios are pausebutton ÷ peer."""
    columns = [PAUSEBUTTON, PEER_SQLITE, PEER_MEMORY]
    table = Table(title=f"{args.entries:,} entries of {ENTRY_SIZE} B, batches of {args.batch:,}")
    table.add_column("figure")
    for name in columns:
        header = name if name != PEER_SQLITE else f"{name}\n({peer_proofs:,} proofs)"
        table.add_column(header, justify="right")
    table.add_column("pb / sqlite", justify="right")
    table.add_column("pb / memory", justify="right")

    rows: list[tuple[str, Callable[[Figures], float], str]] = [
        (
            f"whole cycle s (appends + {args.proofs:,} x 2 proofs)",
            lambda f: f.cycle_seconds(args.proofs),
            "{:,.1f}",
        ),
        ("appends/s", lambda f: f.appends_per_s, "{:,.0f}"),
        ("inclusion proof, mean ms", lambda f: f.inclusion.mean_ms, "{:.3f}"),
        ("inclusion proof, median ms", lambda f: f.inclusion.median_ms, "{:.3f}"),
        ("inclusion proof, p95 ms", lambda f: f.inclusion.p95_ms, "{:.3f}"),
        ("consistency proof, mean ms", lambda f: f.consistency.mean_ms, "{:.3f}"),
        ("consistency proof, median ms", lambda f: f.consistency.median_ms, "{:.3f}"),
        ("consistency proof, p95 ms", lambda f: f.consistency.p95_ms, "{:.3f}"),
        ("verify inclusion, median ms", lambda f: f.verify_inclusion.median_ms, "{:.3f}"),
        ("verify inclusion, p95 ms", lambda f: f.verify_inclusion.p95_ms, "{:.3f}"),
        ("verify consistency, median ms", lambda f: f.verify_consistency.median_ms, "{:.3f}"),
        ("verify consistency, p95 ms", lambda f: f.verify_consistency.p95_ms, "{:.3f}"),
    ]
    for label, get, fmt in rows:
        values = {name: get(results[name]) if name in results else None for name in columns}
        cells = [fmt.format(v) if v is not None else "-" for v in values.values()]
        ours = values[PAUSEBUTTON]
        table.add_row(
            label, *cells, _ratio(ours, values[PEER_SQLITE]), _ratio(ours, values[PEER_MEMORY])
        )
    return table


def to_json(
    results: dict[str, Figures], args: argparse.Namespace, peer_proofs: int, notes: list[str]
) -> dict[str, Any]:
    """The figures as a JSON-ready dict."""
    figures = {}
    for name, fig in results.items():
        data = asdict(fig)
        data.pop("roots")
        data["cycle_seconds"] = fig.cycle_seconds(args.proofs)
        figures[name] = data
    ratios: dict[str, dict[str, float]] = {}
    if PAUSEBUTTON in results:
        ours = figures[PAUSEBUTTON]
        for peer in (PEER_SQLITE, PEER_MEMORY):
            if peer not in figures:
                continue
            theirs = figures[peer]
            ratios[f"{PAUSEBUTTON}/{peer}"] = {
                "appends_per_s": ours["appends_per_s"] / theirs["appends_per_s"],
                "cycle_seconds": ours["cycle_seconds"] / theirs["cycle_seconds"],
                **{
                    f"{kind}_{stat}": ours[kind][stat] / theirs[kind][stat]
                    for kind in ("inclusion", "consistency", "verify_inclusion",
                                 "verify_consistency")
                    for stat in ("median_ms", "p95_ms", "mean_ms")
                    if theirs[kind][stat]
                },
            }  # fmt: skip
    return {
        "machine": machine(),
        "versions": versions(),
        "parameters": {
            "entries": args.entries,
            "entry_size": ENTRY_SIZE,
            "batch": args.batch,
            "proofs": args.proofs,
            "peer_proofs": peer_proofs,
            "seed": args.seed,
        },
        "figures": figures,
        "ratios": ratios,
        "notes": notes,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000, help="N, entries to append")
    parser.add_argument("--batch", type=int, default=1_000, help="B, entries per append call")
    parser.add_argument("--proofs", type=int, default=1_000, help="P, proofs of each kind")
    parser.add_argument(
        "--peer-proofs",
        type=int,
        default=100,
        help="cap on proofs of each kind asked of pymerkle's SQLite tree (slow at large N)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for entries and challenges")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--peer-only", action="store_true", help="measure pymerkle alone (no pausebutton)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip pymerkle's memory tree")
    args = parser.parse_args(argv)
    if args.entries < 2 or args.batch < 1 or args.proofs < 1 or args.peer_proofs < 1:
        parser.error("need --entries >= 2 and --batch, --proofs, --peer-proofs >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped to a file: do not squeeze the table into 80 columns
        console = Console(width=120)
    if PAUSEBUTTON_IMPORT_ERROR is not None and not args.peer_only:
        console.print(
            f"[red]cannot import pausebutton's log ({PAUSEBUTTON_IMPORT_ERROR}).[/red] "
            "Is the package installed (`pip install -e .`)? "
            "Pass --peer-only to measure pymerkle alone."
        )
        return 2

    info, vers = machine(), versions()
    console.rule("pausebutton log benchmark")
    console.print(f"machine: {info['cpu']}, {info['cores']} cores, {info['platform']}")
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))

    peer_proofs = min(args.peer_proofs, args.proofs)
    challenges = Challenges.draw(args.seed, args.entries, args.proofs)
    notes = [
        f"{PEER_SQLITE} is asked for {peer_proofs:,} proofs of each kind (--peer-proofs), "
        f"the others for {args.proofs:,}: its proofs rebuild subtrees from stored leaves.",
        "pymerkle's subroot LRU cache is on (its default) and warms as the proofs run.",
        f"pymerkle's SQLite tree runs with SQLite's defaults ({_sqlite_defaults()}), "
        "one transaction per batch; its memory tree persists nothing.",
        "the heap is frozen (gc.freeze) after the appends; roots for verification are "
        "computed untimed; ratios are pausebutton ÷ peer "
        "(above 1 is better for appends/s, below 1 is better for latencies and the cycle).",
        f"whole cycle = append time + {args.proofs:,} x (mean inclusion + mean consistency "
        f"proof time); for {PEER_SQLITE} the mean of its {peer_proofs:,} proofs is "
        f"extrapolated to {args.proofs:,}.",
    ]
    with tempfile.TemporaryDirectory(prefix="pausebutton-bench-", dir=args.dir) as tmp:
        subjects: list[tuple[Callable[[], Subject], int]] = []
        if not args.peer_only:
            subjects.append((lambda: PausebuttonSubject(Path(tmp) / "pausebutton.db"), args.proofs))
        subjects.append(
            (
                lambda: PymerkleSubject(
                    PEER_SQLITE, pymerkle.SqliteTree(str(Path(tmp) / "pymerkle.db"))
                ),
                peer_proofs,
            )
        )
        if not args.no_memory:
            subjects.append(
                (lambda: PymerkleSubject(PEER_MEMORY, pymerkle.InmemoryTree()), args.proofs)
            )
        results: dict[str, Figures] = {}
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        with progress:
            for make, proofs in subjects:
                subject = make()
                if isinstance(subject, PausebuttonSubject):
                    notes.append(f"{PAUSEBUTTON} runs on SQLite with {subject.sqlite_settings()}.")
                try:
                    results[subject.name] = run_subject(subject, args, challenges, proofs, progress)
                finally:
                    subject.close()
                    del subject  # let the memory tree go before the next one

    checked = cross_check_roots(results)
    if len(results) > 1:
        notes.append(
            f"all proofs verified; roots agreed across implementations at {checked} sizes."
        )
    else:
        notes.append("all proofs verified; one implementation, so no roots to cross-check.")
    console.print(report(results, args, peer_proofs))
    for line in notes:
        console.print(f"- {line}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(to_json(results, args, peer_proofs, notes), indent=2) + "\n"
        )
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
