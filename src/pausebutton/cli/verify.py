"""`pausebutton verify`: audit an exported log, check an equivocation proof, replay the registry.

Also `log_export`, the body of `pausebutton log export`. Exit status: 0 when the check
passed, 1 on bad input (one line on stderr), 2 when the audit or the replay found problems.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pausebutton.cli.common import (
    DEFAULT_DB,
    DEFAULT_ORIGIN,
    DbOption,
    OriginOption,
    console,
    reporting_errors,
)
from pausebutton.crypto import parse_envelope
from pausebutton.errors import FormatError
from pausebutton.governance.policy import parse_policy
from pausebutton.governance.root import parse_root, verify_role
from pausebutton.log import note
from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.tlog import TransparencyLog
from pausebutton.verify.audit import audit_log
from pausebutton.verify.equivocation import (
    check_equivocation_proof,
    describe,
    equivocation_proof_bytes,
    parse_equivocation_proof,
)
from pausebutton.verify.export import export_log
from pausebutton.verify.findings import AuditResult
from pausebutton.verify.replay import is_digest, replay_and_compare
from pausebutton.verify.report import verify_source, write_report
from pausebutton.verify.sources import DirectorySource, SourcedCheckpoint
from pausebutton.verify.trust import AuditTrust

app = typer.Typer(
    help="The independent verifier: log audit, equivocation proofs, replay.",
    no_args_is_help=True,
)

Directory = Annotated[Path, typer.Argument(help="An exported log (pausebutton log export).")]
LogVkeys = Annotated[
    list[str] | None,
    typer.Option(
        "--vkey",
        envvar="PAUSEBUTTON_LOG_VKEY",
        help="The log's C2SP verifier key (repeatable, for rotated keys).",
    ),
]


def _trust(
    vkeys: list[str] | None,
    witnesses: list[str] | None,
    quorum: int | None,
    root: Path | None,
    policy: Path | None,
    origin: str,
) -> AuditTrust:
    if root is None:
        if policy is not None:
            raise FormatError("--policy needs --root (the policy is checked against its keys)")
        return AuditTrust.from_vkeys(vkeys or [], witnesses or [], quorum)
    if vkeys or witnesses or quorum is not None:
        raise FormatError("give the keys either with --root/--policy or with --vkey/--witness")
    root_envelope = parse_envelope(root.read_bytes())
    trusted = parse_root(root_envelope)
    verify_role(root_envelope, trusted, "root")
    chosen = None
    if policy is not None:
        policy_envelope = parse_envelope(policy.read_bytes())
        chosen = parse_policy(policy_envelope)
        verify_role(policy_envelope, trusted, "policy")
    return AuditTrust.from_root(trusted, origin, chosen)


def _mark(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]NO[/]", None: "-"}[value]


def _show(result: AuditResult) -> None:
    table = Table(title=f"{result.origin}: checkpoints (quorum {result.quorum})")
    for column in ("size", "witnesses", "quorum", "tiles", "entries", "extends previous"):
        table.add_column(column)
    for cp in result.checkpoints:
        table.add_row(
            f"{cp.size:,}",
            ", ".join(cp.witnesses) or "-",
            _mark(cp.quorum_met),
            _mark(cp.root_from_tiles),
            _mark(cp.root_from_entries),
            _mark(cp.consistent),
        )
    console.print(table)
    console.print(
        f"checked {result.entries_checked:,} entries and {result.tiles_checked:,} tiles "
        f"up to size {result.head_size if result.head_size is not None else '-'}"
    )
    colours = {"critical": "bold red", "error": "red", "warning": "yellow"}
    for f in result.findings:
        console.print(
            f"[{colours[f.severity]}]{f.severity}[/] {f.id}: {f.message}", highlight=False
        )


@app.command("audit")
def audit(
    directory: Directory,
    vkey: LogVkeys = None,
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="A witness's verifier key (repeatable).")
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(help="Cosignatures each checkpoint needs (default: the policy's, capped)."),
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="Trust a governance root envelope's log and witness keys.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="With --root: the policy envelope (witness threshold).")
    ] = None,
    origin: OriginOption = DEFAULT_ORIGIN,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A signed checkpoint seen elsewhere, e.g. a witness's (repeatable)."),
    ] = None,
    no_entries: Annotated[
        bool, typer.Option("--no-entries", help="Check checkpoints and tiles only.")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here.")] = None,
    proofs: Annotated[
        Path | None, typer.Option(help="Write each equivocation proof into this folder.")
    ] = None,
) -> None:
    """Audit an exported log: signatures, witness quorum, forks, rollback, entries, consistency."""
    with reporting_errors():
        trust = _trust(vkey, witness, quorum, root, policy, origin)
        known = [SourcedCheckpoint(str(p), p.read_text(encoding="utf-8")) for p in checkpoint or []]
        result = audit_log(DirectorySource(directory), trust, known=known, entries=not no_entries)
        if json_out is not None:
            json_out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        if proofs is not None:
            proofs.mkdir(parents=True, exist_ok=True)
            for i, proof in enumerate(result.equivocations):
                (proofs / f"equivocation-{i}.json").write_bytes(equivocation_proof_bytes(proof))
        _show(result)
    if not result.ok:
        raise typer.Exit(2)
    console.print("[green]OK[/] the log audits clean")


@app.command("equivocation")
def equivocation(
    proof: Annotated[Path, typer.Argument(help="A pausebutton.equivocation/v1 document.")],
    vkey: LogVkeys = None,
) -> None:
    """Check an equivocation proof with the log's verifier key alone."""
    with reporting_errors():
        if not vkey:
            raise FormatError("give the log's verifier key (--vkey)")
        verifiers = [note.Verifier.from_vkey(v) for v in vkey]
        document = parse_equivocation_proof(proof.read_bytes())
        check_equivocation_proof(document, verifiers)
        console.print(f"[bold red]PROVEN[/] {describe(document)}", highlight=False)


@app.command("replay")
def replay(
    directory: Directory,
    db: Annotated[
        str | None, typer.Option("--db", help="The authority's database holding its projection.")
    ] = None,
    digest: Annotated[
        str | None, typer.Option(help="The authority's published projection digest (hex).")
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="Entries to replay (default: the database's, or the head).")
    ] = None,
    into: Annotated[
        str | None, typer.Option(help="Database URL to replay into (default: a temporary file).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
) -> None:
    """Rebuild the registry from the exported entries and compare it with the authority's."""
    with reporting_errors(), tempfile.TemporaryDirectory() as tmp:
        if (db is None) == (digest is None):
            raise FormatError("give either --db URL or --digest HEX to compare with")
        if digest is not None and not is_digest(digest):
            raise FormatError(f"{digest!r} is not a digest (64 lowercase hex digits)")
        source = DirectorySource(directory)
        if digest is not None and size is None:
            head = source.checkpoint().note
            size = Checkpoint.parse(note.parse_signed_note(head)[0]).size
        url = into or f"sqlite:///{tmp}/replay.db"
        report = replay_and_compare(source, url, db or digest or "", size)
        if json_out is not None:
            json_out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        console.print(
            f"replayed {report.size:,} entries\npublished {report.published_digest}\n"
            f"replayed  {report.replayed_digest}"
        )
        if report.first_difference is not None:
            d = report.first_difference
            console.print(
                f"first difference at dump line {d.line}:\n  published {d.published}\n"
                f"  replayed  {d.replayed}",
                highlight=False,
            )
    if not report.equal:
        console.print("[red]DIFFERENT[/] the published registry is not what the log implies")
        raise typer.Exit(2)
    console.print(f"[green]OK[/] equal: {json.dumps(report.rows)}")


def log_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write (created, or updated).")],
    parquet: Annotated[
        bool, typer.Option(help="Also write entries.parquet (needs DuckDB).")
    ] = False,
    db: DbOption = DEFAULT_DB,
    origin: OriginOption = DEFAULT_ORIGIN,
) -> None:
    """Export the log up to its newest checkpoint as a C2SP tiles directory (incremental)."""
    with reporting_errors():
        log = TransparencyLog.open(db, origin=origin)
        started = time.monotonic()
        try:
            summary = export_log(log, directory, parquet=parquet)
        finally:
            log.close()
        console.print(
            f"exported {origin} at size {summary.size:,} with {summary.checkpoints} "
            f"checkpoint(s) to {directory}: {len(summary.written)} file(s) written, "
            f"{len(summary.removed)} partial folder(s) removed "
            f"in {time.monotonic() - started:.1f} s"
        )


@app.command("report")
def report(
    log: Annotated[Path, typer.Option("--log", help="An exported log (pausebutton log export).")],
    out: Annotated[Path, typer.Option("--out", help="Write the HTML report here.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the JSON result.")
    ] = None,
    vkey: LogVkeys = None,
    witness: Annotated[list[str] | None, typer.Option("--witness")] = None,
    quorum: Annotated[int | None, typer.Option()] = None,
    root: Annotated[Path | None, typer.Option()] = None,
    policy: Annotated[Path | None, typer.Option()] = None,
    origin: OriginOption = DEFAULT_ORIGIN,
) -> None:
    """Audit an exported log, run the detectors and the accountancy, write the report."""
    with reporting_errors():
        source = DirectorySource(log)
        audit_result = None
        if vkey or root:
            audit_result = audit_log(source, _trust(vkey, witness, quorum, root, policy, origin))
        size = Checkpoint.parse(note.parse_signed_note(source.checkpoint().note)[0]).size
        result = verify_source(source, size, audit=audit_result)
        write_report(result, out, json_out)
        console.print(f"{len(result.findings)} finding(s); report written to {out}")
    if not result.ok:
        raise typer.Exit(2)
