"""Benchmark the chip registry: live intake against the bare log, and replay from entry 0.

Run: ``.venv/bin/python bench/registry.py [--stream N] [--batch B] [--events N] [--pg-url URL]``.

1. **Intake.** A mixed stream of ``--stream`` events (each chip manufactured, sold to a
   distributor, installed at a data centre: a third each) is submitted in batches of
   ``--batch`` through `EventLog` with the `RegistryProjector` and the default regulation:
   every event parsed, authenticated (Ed25519, two signatures each), checked against the
   rules and the policy, appended, and projected, one transaction per batch. The baseline
   appends the same entry bytes in the same batches to a bare `TransparencyLog`. Both on
   SQLite (a file, WAL, synchronous=FULL) and, with ``--pg-url``, on PostgreSQL (two
   throwaway databases are created on that server and dropped afterwards).
2. **Replay.** A log of ``--events`` entries (default 1,000,000) of the same stream is
   appended directly (built once, outside the timing) and replayed from entry 0 into a
   fresh SQLite registry; the time covers reading, decoding, applying the rules and
   writing every row.

Events are signed with a fast signer that writes RFC 8785 bytes with ``json.dumps`` (exact
for these payloads: ASCII strings and integers); the intake run re-parses and verifies
every one of them, and the first few are checked against `make_event`'s bytes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pausebutton.crypto import SigningKey
from pausebutton.crypto.envelope import DOMAIN
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client
from pausebutton.registry.actors import IdentityDocument, KycRecord, new_opening
from pausebutton.registry.chips import endorse
from pausebutton.registry.compliance import RegistryRegulation
from pausebutton.registry.events import EVENT_PAYLOAD_TYPE, parse_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.replay import replay, row_counts
from pausebutton.registry.state import RegistryProjector
from pausebutton.registry.submission import EventLog

NOW = 1_800_000_000
ORIGIN = "bench.example/log"
SPEC = {"name": "Bench H1", "dense_tops_by_bits": {"8": 1979, "16": 989.5}, "die_area_mm2": 814}
console = Console()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key(name: str) -> SigningKey:
    return SigningKey.from_seed(name.encode().ljust(32, b"\0")[:32])


REGISTRAR, MAKER, DIST, OPERATOR = (_key(n) for n in ("registrar", "maker", "distributor", "dc"))


class Signer:
    """Signs events fast, with a per-actor nonce counter."""

    def __init__(self) -> None:
        self.counter = 0

    def event(self, kind: str, payload: Mapping[str, object], *keys: SigningKey) -> bytes:
        self.counter += 1
        body = {
            "type": kind,
            "actor": keys[0].key_id,
            "time": NOW,
            "nonce": f"n{self.counter:020d}",
            "payload": payload,
        }
        message = DOMAIN + EVENT_PAYLOAD_TYPE.encode() + b"\n" + _canonical(body)
        signatures = sorted(
            ({"keyid": k.key_id, "sig": base64.b64encode(k.sign(message)).decode()} for k in keys),
            key=lambda s: s["keyid"],
        )
        return _canonical(
            {"payload_type": EVENT_PAYLOAD_TYPE, "payload": body, "signatures": signatures}
        )


def setup_events() -> list[bytes]:
    """Register the three actors with verified KYC, and the data centre."""
    out = []
    for name, key, role in (
        ("maker", MAKER, "manufacturer"),
        ("dist", DIST, "distributor"),
        ("dc", OPERATOR, "datacentre"),
    ):
        record = KycRecord(
            key_id=key.key_id,
            entity=name,
            legal_name=name,
            jurisdiction="TW",
            beneficial_owners=["owner"],
            documents=[IdentityDocument(kind="coi", issuer="x", number=name)],
        )
        out.append(client.register_actor(REGISTRAR, key.public, name, [role], time=NOW).to_bytes())
        out.append(client.record_kyc(REGISTRAR, new_opening(record), time=NOW).to_bytes())
    facility = client.event(
        "facility.registered",
        OPERATOR,
        time=NOW,
        facility="dc-1",
        name="DC",
        jurisdiction="TW",
        latitude=25.0,
        longitude=121.5,
    )
    return [*out, facility.to_bytes()]


def stream(count: int, seed: str) -> Iterator[bytes]:
    """`count` events: chip i manufactured, transferred, installed, in that order."""
    signer = Signer()
    for i in range(count // 3 + 1):
        serial = f"{seed}-{i:09d}"
        device = base64.b64encode(os.urandom(32)).decode()
        x25519 = base64.b64encode(os.urandom(32)).decode()
        made = {
            "serial": serial,
            "model": "H1",
            "jurisdiction": "TW",
            "spec": SPEC,
            "device": {
                "signing_key": device,
                "x25519_key": x25519,
                "endorsement": endorse(MAKER, "H1", serial, device, x25519),
            },
            "components": [{"kind": "logic_die", "serial": f"{serial}-d"}]
            + [{"kind": "hbm_stack", "serial": f"{serial}-h{k}"} for k in range(4)],
        }
        events = (
            signer.event("chip.manufactured", made, MAKER),
            signer.event("chip.transferred", {"serial": serial, "buyer": DIST.key_id}, MAKER, DIST),
            signer.event(
                "chip.installed",
                {"serial": serial, "facility": "dc-1", "operator": OPERATOR.key_id},
                DIST,
                OPERATOR,
            ),
        )
        yield from events[: count - 3 * i]


def check_signer() -> None:
    """The fast signer's bytes are canonical: parse_event reproduces them exactly."""
    for entry in stream(30, "check"):
        assert parse_event(entry).canonical == entry


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@dataclass
class IntakeFigures:
    backend: str
    events: int
    intake_s: float
    bare_s: float

    @property
    def ratio(self) -> float:
        return (self.events / self.intake_s) / (self.events / self.bare_s)


def run_intake(
    backend: str, urls: tuple[str, str], events: list[bytes], batch: int
) -> IntakeFigures:
    """Submit the stream through the intake on urls[0]; append it bare on urls[1]."""
    anchor = ActorKey(REGISTRAR.public, frozenset({"registrar"}))
    log = TransparencyLog.open(urls[0], origin=ORIGIN)
    intake = EventLog(
        log,
        anchors=[anchor],
        clock=lambda: NOW,
        projector=RegistryProjector(),
        policy=RegistryRegulation().checks(),
    )
    intake.submit_batch(setup_events())
    with _progress() as progress:
        task = progress.add_task(f"{backend}: intake + projection", total=len(events))
        start = time.perf_counter()
        for low in range(0, len(events), batch):
            chunk = events[low : low + batch]
            intake.submit_batch(chunk)
            progress.advance(task, len(chunk))
        intake_s = time.perf_counter() - start
        log.close()
        bare = TransparencyLog.open(urls[1], origin=ORIGIN)
        task = progress.add_task(f"{backend}: bare log append", total=len(events))
        start = time.perf_counter()
        for low in range(0, len(events), batch):
            bare.append(events[low : low + batch])
            progress.advance(task, min(batch, len(events) - low))
        bare_s = time.perf_counter() - start
        bare.close()
    return IntakeFigures(backend, len(events), intake_s, bare_s)


def run_replay(count: int, workdir: Path) -> tuple[float, dict[str, int]]:
    """Build a log of `count` entries, then time its replay into a fresh registry."""
    log = TransparencyLog.open(f"sqlite:///{workdir / 'replay-log.db'}", origin=ORIGIN)
    with _progress() as progress:
        task = progress.add_task("building the log (untimed)", total=count)
        setup = setup_events()
        log.append(setup)
        progress.advance(task, len(setup))
        chunk: list[bytes] = []
        for entry in stream(count - len(setup), "replay"):
            chunk.append(entry)
            if len(chunk) == 10_000:
                log.append(chunk)
                progress.advance(task, len(chunk))
                chunk = []
        if chunk:
            log.append(chunk)
            progress.advance(task, len(chunk))
        task = progress.add_task("replaying into a fresh registry", total=count)
        start = time.perf_counter()
        engine = replay(
            log,
            f"sqlite:///{workdir / 'replayed.db'}",
            progress=lambda n: progress.advance(task, n),
        )
        seconds = time.perf_counter() - start
    counts = row_counts(engine)
    engine.dispose()
    log.close()
    return seconds, counts


def _pg_databases(server_url: str) -> tuple[list[str], Engine, list[str]]:
    """Create two throwaway databases on the server; return their URLs."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    names = [f"bench_registry_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(server_url)
    urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
    return urls, admin, names


def _drop(admin: Engine, names: list[str]) -> None:
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=30_000, help="events in the intake run")
    parser.add_argument("--batch", type=int, default=1_000, help="events per transaction")
    parser.add_argument("--events", type=int, default=1_000_000, help="entries to replay")
    parser.add_argument("--pg-url", help="a PostgreSQL server URL (databases are made there)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    check_signer()
    events = list(stream(args.stream, "live"))
    results: list[IntakeFigures] = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        workdir = Path(tmp)
        sqlite = (f"sqlite:///{workdir / 'intake.db'}", f"sqlite:///{workdir / 'bare.db'}")
        results.append(run_intake("sqlite", sqlite, events, args.batch))
        if args.pg_url:
            urls, admin, names = _pg_databases(args.pg_url)
            try:
                results.append(run_intake("postgresql", (urls[0], urls[1]), events, args.batch))
            finally:
                _drop(admin, names)
        replay_s, counts = run_replay(args.events, workdir)
    table = Table(title=f"registry: {args.stream:,} events in batches of {args.batch:,}")
    for column in ("backend", "intake events/s", "bare append events/s", "intake / bare"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.backend,
            f"{r.events / r.intake_s:,.0f}",
            f"{r.events / r.bare_s:,.0f}",
            f"{r.ratio:.3f}",
        )
    console.print(table)
    console.print(
        f"replay of {args.events:,} entries into a fresh SQLite registry: "
        f"{replay_s:,.1f} s ({args.events / replay_s:,.0f} entries/s); rows: {counts}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "intake": [
                        {
                            "backend": r.backend,
                            "events": r.events,
                            "intake_s": r.intake_s,
                            "bare_s": r.bare_s,
                            "ratio": r.ratio,
                        }
                        for r in results
                    ],
                    "replay": {"events": args.events, "seconds": replay_s, "rows": counts},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
