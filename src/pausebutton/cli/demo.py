"""`pausebutton demo`: build a log on embedded SQLite and show what it guarantees, step by step."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import update

from pausebutton.cli.common import console, reporting_errors
from pausebutton.crypto import SigningKey
from pausebutton.crypto.envelope import EnvelopeSignature
from pausebutton.errors import Error
from pausebutton.log import note
from pausebutton.log.cosignature import CosignatureSigner, Witness, open_cosigned_checkpoint
from pausebutton.log.proofs import verify_consistency_bundle, verify_inclusion_bundle
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import make_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog
from pausebutton.store.models import log_entries

ORIGIN = "demo.pausebutton.example/log"
ACTORS = [("Fab One", "manufacturer"), ("DC North", "datacenter"), ("Frontier Lab", "lab")]


def demo(
    events: Annotated[int, typer.Option(help="How many signed events to append.")] = 20_000,
    batch: Annotated[int, typer.Option(help="Events per append transaction.")] = 1_000,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Keep the database here (default: a temp dir).")
    ] = None,
) -> None:
    """Build a log, append signed events, prove inclusion and consistency, refuse bad input."""
    with reporting_errors():
        if directory is None:
            with tempfile.TemporaryDirectory(prefix="pausebutton-demo-") as tmp:
                _run(Path(tmp), events, batch)
        else:
            directory.mkdir(parents=True, exist_ok=True)
            _run(directory, events, batch)


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _run(workdir: Path, events: int, batch: int) -> None:
    db = workdir / "demo.db"
    if db.exists():
        raise Error(f"{db} exists; give --dir an empty folder")
    started = time.perf_counter()
    console.print(
        Panel(
            "Every change of state in the regime is a signed event in one append-only\n"
            "transparency log. This demo builds one on embedded SQLite and shows what an\n"
            "auditor can check with nothing but the log's public key.",
            title="pausebutton demo",
        )
    )

    _step("1. Keys")
    log_signer = note.Signer.generate(ORIGIN)
    registrar = SigningKey.generate()
    actors = {name: SigningKey.generate() for name, _ in ACTORS}
    witness_key = CosignatureSigner.generate("witness.demo.example/w1")
    console.print(f"log verifier key      {log_signer.vkey()}", soft_wrap=True)
    console.print(f"witness verifier key  {witness_key.vkey()}", soft_wrap=True)
    console.print(f"registrar key id      {registrar.key_id}", soft_wrap=True)

    log = TransparencyLog.open(f"sqlite:///{db}", origin=ORIGIN, signer=log_signer)
    anchor = ActorKey(registrar.public, frozenset({"registrar"}), name="registrar")
    intake = EventLog(log, anchors=[anchor])

    _step("2. The registrar registers three actors")
    for (name, role), key in zip(ACTORS, actors.values(), strict=True):
        payload = {"name": name, "roles": [role], "public_key": key.public.to_base64()}
        receipt = intake.submit(make_event("actor.registered", payload, registrar))
        verify_inclusion_bundle(receipt, log_signer.verifier(), ORIGIN, log.entry(receipt.index))
        console.print(f"{name:<13} ({role:<12}) at index {receipt.index}; receipt verified")

    _step(f"3. Actors append {events:,} signed events in batches of {batch:,}")
    keys = list(actors.values())
    rng = random.Random(2026)
    first_checkpoint_size = 0
    appended = 0
    append_seconds = 0.0
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("sign, validate, append", total=events)
        while appended < events:
            n = min(batch, events - appended)
            items = [
                make_event("log.note", {"text": f"usage report {appended + i}"}, rng.choice(keys))
                for i in range(n)
            ]
            t0 = time.perf_counter()
            intake.submit_batch(items)
            append_seconds += time.perf_counter() - t0
            appended += n
            progress.advance(task, n)
            if not first_checkpoint_size and appended >= events // 2:
                log.checkpoint()
                first_checkpoint_size = log.size
    console.print(
        f"log size {log.size:,}; validation + durable append: "
        f"{appended / append_seconds:,.0f} events/s (Ed25519 verify per event, SQLite WAL fsync)"
    )

    _step("4. Checkpoints and a witness")
    second = log.checkpoint()
    witness = Witness(witness_key, log_signer.verifier(), ORIGIN)
    first = log.checkpoint_at(first_checkpoint_size)
    assert first is not None
    log.add_cosignatures(witness.cosign(first, [], now=int(time.time())), [witness_key.verifier()])
    size = log.size
    proof = log.consistency_proof(first_checkpoint_size, size)
    log.add_cosignatures(
        witness.cosign(second, proof, now=int(time.time())), [witness_key.verifier()]
    )
    cp, cosigs = open_cosigned_checkpoint(
        log.cosigned_checkpoint(size), log_signer.verifier(), [witness_key.verifier()], quorum=1
    )
    console.print(log.cosigned_checkpoint(size), highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"the witness checked consistency {first_checkpoint_size:,} -> {cp.size:,} "
        f"and cosigned ({len(cosigs)} cosignature)"
    )

    _step("5. Proofs an auditor checks offline")
    index = rng.randrange(size)
    t0 = time.perf_counter()
    bundle = log.inclusion_bundle(index)
    prove_ms = (time.perf_counter() - t0) * 1e3
    verify_inclusion_bundle(bundle, log_signer.verifier(), ORIGIN, log.entry(index))
    console.print(
        f"entry {index:,}: inclusion proof of {len(bundle.proof)} hashes "
        f"made in {prove_ms:.2f} ms, verified"
    )
    consistency = log.consistency_bundle(first_checkpoint_size)
    verify_consistency_bundle(consistency, log_signer.verifier(), ORIGIN)
    console.print(
        f"checkpoint {size:,} extends checkpoint {first_checkpoint_size:,}: "
        f"{len(consistency.proof)} hashes, verified"
    )

    _step("6. Bad input is refused and changes nothing")
    lab = actors["Frontier Lab"]
    replayed = make_event("log.note", {"text": "submitted once"}, lab)
    intake.submit(replayed)
    size = log.size
    tampered = replayed.model_copy(update={"payload": {**replayed.payload, "nonce": "x" * 22}})
    forged_sig = replayed.model_copy(
        update={"signatures": (EnvelopeSignature(keyid=lab.key_id, sig="A" * 86 + "=="),)}
    )
    stranger = SigningKey.generate()
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("the same event again (replay)", lambda: intake.submit(replayed)),
        ("a field changed after signing", lambda: intake.submit(tampered)),
        ("a forged signature", lambda: intake.submit(forged_sig)),
        (
            "an unregistered key",
            lambda: intake.submit(make_event("log.note", {"text": "hi"}, stranger)),
        ),
        (
            "a lab registering actors",
            lambda: intake.submit(
                make_event(
                    "actor.registered",
                    {"name": "x", "roles": ["lab"], "public_key": stranger.public.to_base64()},
                    lab,
                )
            ),
        ),
        (
            "an event from last week",
            lambda: intake.submit(
                make_event("log.note", {"text": "old"}, lab, time=int(time.time()) - 7 * 86400)
            ),
        ),
        ("128 KiB of garbage", lambda: intake.submit(b"{" * 131072)),
    ]
    table = Table("attempt", "refused with", expand=True)
    for label, attempt in attempts:
        try:
            attempt()
        except Error as exc:
            table.add_row(label, f"{type(exc).__name__}: {exc}")
        else:
            raise Error(f"the log accepted {label}")
    console.print(table)
    console.print(f"log size still {log.size:,} (was {size:,})")
    assert log.size == size

    _step("7. Tampering with the stored log is caught")
    victim = rng.randrange(first_checkpoint_size)
    with log.engine.begin() as conn:
        conn.execute(
            update(log_entries).where(log_entries.c.idx == victim).values(data=b"rewritten history")
        )
    try:
        verify_inclusion_bundle(
            log.inclusion_bundle(victim), log_signer.verifier(), ORIGIN, log.entry(victim)
        )
    except Error as exc:
        console.print(
            f"entry {victim:,} was rewritten in the database: "
            f"[bold red]{type(exc).__name__}[/]: {exc}"
        )
    else:
        raise Error(f"tampering with entry {victim} went unnoticed")
    log.close()

    _step("Done")
    elapsed = time.perf_counter() - started
    console.print(
        f"{size:,} entries, 2 checkpoints, 1 witness, every proof verified, "
        f"{len(attempts)} attacks refused, 1 tampering caught, in {elapsed:.1f} s"
    )
