"""`pausebutton governance`: the key ceremony, the policy, the pause button, status, serving.

Governors sign on their own machines with their own key files: `draft` writes an unsigned
envelope, `sign` adds one signature, `combine` merges signed copies, `publish` verifies,
appends to the log, gets the witnesses' cosignatures and writes the TUF repository.
Every refusal is one line on stderr and changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError as PydanticValidationError

from pausebutton.cli.common import console, reporting_errors
from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import load_signing_key
from pausebutton.errors import Error, FormatError, StoreError
from pausebutton.governance import (
    Scope,
    combine,
    draft,
    draft_pause,
    draft_resume,
    load_envelope,
    parse_policy,
    save_envelope,
    sign,
)
from pausebutton.governance._common import describe_error
from pausebutton.governance.acceptance import describe_document, describe_view
from pausebutton.governance.proposals import parse_changes, propose_policy
from pausebutton.governance.publisher import Published
from pausebutton.governance.serve import RepositoryServer
from pausebutton.governance.workspace import DEFAULT_ORIGIN, Workspace, init_workspace

app = typer.Typer(help="Governance: the key ceremony, the policy, pause and resume.")
policy_app = typer.Typer(help="The policy document.", no_args_is_help=True)
directive_app = typer.Typer(help="Pause and resume directives.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(directive_app, name="directive")

DAY = 86_400
WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar="PAUSEBUTTON_GOVERNANCE", help="The ceremony's folder."
    ),
]
DEFAULT_WORKSPACE = Path("governance")
KeyOption = Annotated[Path, typer.Option("--key", "-k", help="Your own private key file.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Where to write it.")]


def _now() -> int:
    return int(time.time())


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="A new folder for the ceremony.")],
    governors: Annotated[int, typer.Option("--governors", "-n", help="Governors (n).")] = 5,
    threshold: Annotated[int, typer.Option("--threshold", "-k", help="Signatures needed.")] = 3,
    witnesses: Annotated[int, typer.Option(help="Witnesses of the log.")] = 3,
    witness_threshold: Annotated[int, typer.Option(help="Witness role threshold.")] = 2,
    origin: Annotated[str, typer.Option(help="The governance log's origin.")] = DEFAULT_ORIGIN,
    days: Annotated[int, typer.Option(help="Days until the first root expires.")] = 365,
) -> None:
    """Key ceremony: every governor's keys, the first root signed by all, the repo, the log."""
    with reporting_errors():
        now = _now()
        made = init_workspace(
            directory,
            governors=governors,
            threshold=threshold,
            witnesses=witnesses,
            witness_threshold=witness_threshold,
            origin=origin,
            expires=now + days * DAY,
            now=now,
        )
        console.print(f"root v{made.root_version}: {threshold}-of-{governors}, published")
        for folder in made.governors:
            console.print(f"governor keys  {folder}  (give each folder to its governor)")
        console.print(f"device anchors {directory / 'provisioning'}")


def _write(envelope: Envelope, out: Path) -> None:
    save_envelope(envelope, out)
    console.print(f"wrote {describe_document(envelope)} to {out}")


def _sign(file: Path, key_file: Path, out: Path | None) -> None:
    key = load_signing_key(key_file)
    target = out or file.with_name(f"{file.stem}.sig-{key.key_id[:8]}.json")
    _write(sign(load_envelope(file), key), target)
    console.print(f"signed by {key.key_id}")


def _publish(files: list[Path], workspace: Path) -> Published:
    envelope = combine([load_envelope(f) for f in files])
    with Workspace(workspace).publisher() as publisher:
        done = publisher.publish(envelope, _now())
    console.print(
        f"published {describe_document(envelope)} at log index {done.index} as {done.path}"
    )
    if done.cosignatures < done.needed:
        console.print(
            f"[yellow]warning[/]: {done.cosignatures} witness cosignature(s), devices need "
            f"{done.needed} for this {done.direction}; run `governance refresh --receipts`"
        )
    return done


# -- policy ------------------------------------------------------------------------------


@policy_app.command("show")
def policy_show(
    file: Annotated[Path | None, typer.Argument(help="A policy envelope file.")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Print a policy file, or the policy in force."""
    with reporting_errors():
        if file is not None:
            envelope = load_envelope(file)
            policy = parse_policy(envelope)
            console.print(f"{len(envelope.signatures)} signature(s), not checked here")
        else:
            found = Workspace(workspace).view().policy
            if found is None:
                raise StoreError("no policy is published yet")
            policy = found
        console.print_json(policy.model_dump_json())


@policy_app.command("propose")
def policy_propose(
    out: Annotated[Path, typer.Argument(help="Where to write the unsigned policy.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=VALUE (JSON), repeatable.")
    ] = None,
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Draft the next policy version: the one in force (or the defaults) with changes."""
    with reporting_errors():
        view = Workspace(workspace).view()
        changes = parse_changes(set_ or [])
        proposal = propose_policy(view.root, view.policy, changes, _now() + days * DAY)
        _write(draft(proposal.policy), out)
        action = proposal.action or "renewal"
        console.print(f"needs {proposal.signatures} policy signatures ({action})")


@policy_app.command("sign")
def policy_sign(
    file: Annotated[Path, typer.Argument(help="The policy envelope.")],
    key: KeyOption,
    out: OutOption = None,
) -> None:
    """Add your signature to a copy of the policy (on your own machine)."""
    with reporting_errors():
        _sign(file, key, out)


@policy_app.command("publish")
def policy_publish(
    files: Annotated[list[Path], typer.Argument(help="Signed copies of one policy.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Combine the signed copies, verify, log, and publish the policy."""
    with reporting_errors():
        _publish(files, workspace)


# -- directives --------------------------------------------------------------------------


@directive_app.command("draft")
def directive_draft(
    out: Annotated[Path, typer.Argument(help="Where to write the unsigned directive.")],
    id: Annotated[str, typer.Option("--id", help="A new, never reused directive id.")],
    reason: Annotated[str, typer.Option(help="Why, in words.")],
    lifts: Annotated[str | None, typer.Option(help="Draft a resume lifting this pause.")] = None,
    effect: Annotated[Literal["halt", "throttle"], typer.Option()] = "halt",
    rate: Annotated[float | None, typer.Option(help="Throttle to this fraction.")] = None,
    jurisdiction: Annotated[list[str] | None, typer.Option(help="Scope, repeatable.")] = None,
    chip_class: Annotated[list[str] | None, typer.Option(help="Scope, repeatable.")] = None,
    owner: Annotated[list[str] | None, typer.Option(help="Scope, repeatable.")] = None,
    device: Annotated[list[str] | None, typer.Option(help="Scope, repeatable.")] = None,
    min_run_flop: Annotated[int | None, typer.Option(help="Scope: runs of at least.")] = None,
    effective_at: Annotated[int | None, typer.Option(help="Unix time; default now.")] = None,
    expires: Annotated[int | None, typer.Option(help="Unix time the pause lapses.")] = None,
) -> None:
    """Write an unsigned pause (or, with --lifts, a resume) for the governors to sign."""
    with reporting_errors():
        now = _now()
        at = now if effective_at is None else effective_at
        try:
            if lifts is not None:
                envelope = draft_resume(id, lifts=lifts, issued=now, effective_at=at, reason=reason)
            else:
                scope = Scope(
                    jurisdictions=tuple(jurisdiction) if jurisdiction else None,
                    chip_classes=tuple(chip_class) if chip_class else None,
                    owners=tuple(owner) if owner else None,
                    devices=tuple(device) if device else None,
                    min_run_flop=min_run_flop,
                )
                envelope = draft_pause(
                    id, issued=now, effective_at=at, reason=reason, scope=scope, effect=effect,
                    rate=rate, expires=expires,
                )  # fmt: skip
        except PydanticValidationError as exc:
            raise FormatError(f"directive: {describe_error(exc)}") from None
        _write(envelope, out)


@directive_app.command("sign")
def directive_sign(
    file: Annotated[Path, typer.Argument(help="The directive envelope.")],
    key: KeyOption,
    out: OutOption = None,
) -> None:
    """Add your signature to a copy of the directive (on your own machine)."""
    with reporting_errors():
        _sign(file, key, out)


@directive_app.command("combine")
def directive_combine(
    files: Annotated[list[Path], typer.Argument(help="Signed copies of one directive.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the result.")],
) -> None:
    """Merge the signatures of signed copies into one envelope."""
    with reporting_errors():
        envelope = combine([load_envelope(f) for f in files])
        _write(envelope, out)
        console.print(f"{len(envelope.signatures)} signature(s)")


@directive_app.command("publish")
def directive_publish(
    files: Annotated[list[Path], typer.Argument(help="The directive (or signed copies).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Verify, log, and publish a directive."""
    with reporting_errors():
        _publish(files, workspace)


# -- status, refresh, serve --------------------------------------------------------------


@app.command("status")
def status(
    source: Annotated[Literal["repo", "log"], typer.Option("--from")] = "repo",
    at: Annotated[int | None, typer.Option(help="Unix time to evaluate; default now.")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Say what is in force now and why: from the TUF repository, or replayed from the log."""
    with reporting_errors():
        ws = Workspace(workspace)
        if source == "repo":
            view = ws.view()
        else:
            view, refused = ws.log_view()
            for refusal in refused:
                console.print(f"refused in log: {refusal.what}: {refusal.reason}")
        for line in describe_view(view, _now() if at is None else at):
            console.print(line, highlight=False)


@app.command("refresh")
def refresh(
    receipts: Annotated[bool, typer.Option(help="Also renew every receipt.")] = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Re-sign the TUF timestamp (run more often than the policy's freshness limit)."""
    with reporting_errors(), Workspace(workspace).publisher() as publisher:
        now = _now()
        if receipts:
            console.print(f"renewed {publisher.renew_receipts(now)} receipt(s)")
        publisher.refresh_timestamp(now)
        console.print("timestamp re-signed")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8000,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Serve the TUF repository over HTTP until interrupted."""
    with reporting_errors():
        ws = Workspace(workspace)
        try:
            server = RepositoryServer(ws.repo_dir, host, port)
        except OSError as exc:
            raise Error(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        with server, ws.publisher() as publisher:
            console.print(f"serving {ws.repo_dir} at {server.url}/ (Ctrl-C to stop)")
            try:
                while True:
                    # Re-sign the timestamp four times per freshness period, so devices
                    # polling a live server never see it expire.
                    publisher.refresh_timestamp(_now())
                    view = publisher.view()
                    freshness = view.policy.freshness_s if view and view.policy else DAY
                    time.sleep(max(1, freshness // 4))
            except KeyboardInterrupt:
                console.print("stopped")
