"""`pausebutton log`: append signed events, read entries, prove, verify, checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import (
    DEFAULT_DB,
    DEFAULT_ORIGIN,
    DbOption,
    LogKeyOption,
    OriginOption,
    console,
    log_signer,
    reporting_errors,
)
from pausebutton.crypto import VerifyKey
from pausebutton.errors import FormatError
from pausebutton.log import note
from pausebutton.log.proofs import (
    ConsistencyBundle,
    bundle_bytes,
    parse_bundle,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)
from pausebutton.log.tlog import MAX_ENTRY_BYTES, TransparencyLog
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.state import RegistryProjector
from pausebutton.registry.submission import EventLog

app = typer.Typer(help="The transparency log.", no_args_is_help=True)


def _open(db: str, origin: str, key: Path | None) -> TransparencyLog:
    return TransparencyLog.open(db, origin=origin, signer=log_signer(origin, key))


@app.command("append")
def append(
    files: Annotated[list[Path], typer.Argument(help="Signed event files (one event each).")],
    registrar: Annotated[
        list[Path] | None,
        typer.Option(
            envvar="PAUSEBUTTON_REGISTRARS",
            help="Public key file (.pub) of a registrar trusted to register actors "
            "(repeatable; in the environment, paths separated by colons).",
        ),
    ] = None,
    db: DbOption = DEFAULT_DB,
    origin: OriginOption = DEFAULT_ORIGIN,
    key: LogKeyOption = None,
) -> None:
    """Validate the events and append them all in one transaction, or none of them."""
    with reporting_errors():
        items = []
        for path in files:
            size = path.stat().st_size
            if size > MAX_ENTRY_BYTES:
                raise FormatError(f"{path} is {size} bytes, over the {MAX_ENTRY_BYTES} limit")
            items.append(path.read_bytes())
        anchors = [
            ActorKey(VerifyKey.from_base64(p.read_text().strip()), frozenset({"registrar"}))
            for p in registrar or []
        ]
        log = _open(db, origin, key)
        try:
            # The registry projector applies chip, actor and facility events in the same
            # transaction, so the log and the registry tables never disagree.
            intake = EventLog(log, anchors=anchors, projector=RegistryProjector())
            indices = intake.submit_batch(items)
        finally:
            log.close()
        for path, index in zip(files, indices, strict=True):
            console.print(f"appended {path} at index {index}")


@app.command("get")
def get(
    index: Annotated[int, typer.Argument(help="Leaf index.")],
    out: Annotated[Path | None, typer.Option(help="Write the raw entry here.")] = None,
    db: DbOption = DEFAULT_DB,
    origin: OriginOption = DEFAULT_ORIGIN,
) -> None:
    """Print the entry at INDEX (or write its exact bytes to --out)."""
    with reporting_errors():
        log = _open(db, origin, None)
        try:
            entry = log.entry(index)
        finally:
            log.close()
        if out is not None:
            out.write_bytes(entry)
            console.print(f"wrote {len(entry)} bytes to {out}")
            return
        sys.stdout.write(entry.decode("utf-8", errors="backslashreplace") + "\n")


@app.command("checkpoint")
def checkpoint(
    db: DbOption = DEFAULT_DB, origin: OriginOption = DEFAULT_ORIGIN, key: LogKeyOption = None
) -> None:
    """Sign a checkpoint at the current size (once per size) and print the signed note."""
    with reporting_errors():
        log = _open(db, origin, key)
        try:
            sys.stdout.write(log.checkpoint())
        finally:
            log.close()


@app.command("prove")
def prove(
    index: Annotated[
        int | None, typer.Argument(help="Leaf index to prove included.", show_default=False)
    ] = None,
    since: Annotated[
        int | None, typer.Option(help="Prove the newest checkpoint extends the one at SIZE.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the bundle here.")] = None,
    db: DbOption = DEFAULT_DB,
    origin: OriginOption = DEFAULT_ORIGIN,
    key: LogKeyOption = None,
) -> None:
    """Write an inclusion bundle for INDEX, or a consistency bundle with --since SIZE."""
    with reporting_errors():
        if (index is None) == (since is None):
            raise FormatError("give either a leaf INDEX or --since SIZE")
        log = _open(db, origin, key)
        try:
            bundle = (
                log.inclusion_bundle(index)
                if index is not None
                else log.consistency_bundle(since or 0)
            )
        finally:
            log.close()
        data = bundle_bytes(bundle)
        if out is None:
            sys.stdout.write(json.dumps(json.loads(data), indent=2) + "\n")
        else:
            out.write_bytes(data)
            console.print(f"wrote {bundle.format} bundle to {out}")


@app.command("verify")
def verify(
    bundle_file: Annotated[Path, typer.Argument(help="An inclusion or consistency bundle.")],
    vkey: Annotated[
        str, typer.Option(envvar="PAUSEBUTTON_LOG_VKEY", help="The log's C2SP verifier key.")
    ],
    entry: Annotated[
        Path | None, typer.Option(help="The entry's bytes, checked against the leaf hash.")
    ] = None,
) -> None:
    """Verify a bundle offline: the log's signature on each checkpoint, then the proof."""
    with reporting_errors():
        verifier = note.Verifier.from_vkey(vkey)
        bundle = parse_bundle(bundle_file.read_bytes())
        if isinstance(bundle, ConsistencyBundle):
            old, new = verify_consistency_bundle(bundle, verifier, verifier.name)
            console.print(
                f"[green]OK[/] checkpoint at size {new.size} extends the one at size {old.size}"
            )
            return
        data = entry.read_bytes() if entry is not None else None
        cp = verify_inclusion_bundle(bundle, verifier, verifier.name, data)
        what = "entry" if data is not None else "leaf hash"
        console.print(
            f"[green]OK[/] {what} at index {bundle.index} is in {verifier.name} at size {cp.size}"
        )


@app.command("status")
def status(db: DbOption = DEFAULT_DB, origin: OriginOption = DEFAULT_ORIGIN) -> None:
    """Show the log's size, root and newest checkpoint."""
    with reporting_errors():
        log = _open(db, origin, None)
        try:
            size, root, latest = log.size, log.root(), log.latest_checkpoint()
        finally:
            log.close()
        console.print(f"origin             {origin}")
        console.print(f"size               {size:,}")
        console.print(f"root (hex)         {root.hex()}")
        console.print(
            f"newest checkpoint  {'size ' + latest.split(chr(10))[1] if latest else 'none'}"
        )
