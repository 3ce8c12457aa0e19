"""`pausebutton licence`: request (device), issue (authority), install (device), show.

The authority side runs against a governance workspace (`pausebutton governance init`):
its published policy and pauses, its ``operators/licensing.key``, and its transparency
log, where every issued licence is appended as an event. Refusals are one line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import console, reporting_errors
from pausebutton.cli.device import DeviceDir, load_identity, open_governor, parse_flop
from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import load_signing_key
from pausebutton.device.receipts import RECEIPT_PAYLOAD_TYPE, parse_receipt
from pausebutton.errors import FormatError, StoreError
from pausebutton.governance.acceptance import View
from pausebutton.governance.offline import load_envelope, save_envelope
from pausebutton.governance.policy import Policy
from pausebutton.governance.provisioning import initial_root
from pausebutton.governance.workspace import Workspace
from pausebutton.licensing.licences import (
    DEVICE_LICENCE_PAYLOAD_TYPE,
    RUN_LICENCE_PAYLOAD_TYPE,
    describe_device,
    describe_run,
    licence_id,
    parse_device_licence,
    parse_run_licence,
    verify_licensing,
)
from pausebutton.licensing.office import LicensingOffice, Logged
from pausebutton.licensing.requests import REQUEST_PAYLOAD_TYPE, parse_request
from pausebutton.log.tlog import TransparencyLog

app = typer.Typer(help="Licences: request, issue, install, show.", no_args_is_help=True)
issue_app = typer.Typer(help="Issue licences (the licensing authority).", no_args_is_help=True)
app.add_typer(issue_app, name="issue")

DAY = 86_400
WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar="PAUSEBUTTON_GOVERNANCE", help="The governance workspace."
    ),
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Where to write it.")]
Flop = Annotated[str, typer.Option("--flop", help="Budget in FLOP (digits, or e.g. 1e26).")]
RunId = Annotated[str, typer.Option("--run-id", help="The training run's id.")]


@contextmanager
def _office(directory: Path) -> Iterator[tuple[LicensingOffice, View, Policy]]:
    """The licensing office of a workspace, with its published view and policy."""
    workspace = Workspace(directory)
    view = workspace.view()
    if view.policy is None:
        raise StoreError("no policy is published yet: no licence can be issued")
    key = load_signing_key(workspace.directory / "operators" / "licensing.key")
    log = TransparencyLog.open(workspace.log_url, workspace.origin)
    try:
        yield LicensingOffice(log, [key], lambda: view.root), view, view.policy
    finally:
        log.close()


def _report(logged: Logged, out: Path) -> None:
    save_envelope(logged.envelope, out)
    console.print(f"licence {licence_id(logged.envelope)} at log index {logged.index}, in {out}")
    for note in logged.notes:
        console.print(f"note: {note}", highlight=False)


@app.command("request")
def request(
    device: DeviceDir,
    out: OutOption,
    challenge: Annotated[
        str | None, typer.Option(help="The authority's challenge nonce to answer.")
    ] = None,
) -> None:
    """Sign a licence request from the device, with a fresh nonce and its latest receipt."""
    with reporting_errors():
        envelope = open_governor(device).request_licence(int(time.time()), challenge)
        save_envelope(envelope, out)
        console.print(f"licence request from {parse_request(envelope).serial} written to {out}")


@issue_app.command("run")
def issue_run(
    run_id: RunId,
    licensee: Annotated[str, typer.Option(help="The licensee's actor key id.")],
    flop: Flop,
    device: Annotated[
        list[Path], typer.Option("--device", help="A device.json of the pod (repeat).")
    ],
    out: OutOption,
    days: Annotated[int, typer.Option(help="Days the run licence lasts.")] = 30,
    workspace: WorkspaceOption = Path("governance"),
) -> None:
    """Issue a training-run licence for a fixed pod, and log it."""
    with reporting_errors():
        now = int(time.time())
        with _office(workspace) as (office, view, policy):
            logged = office.issue_run(
                run_id=run_id,
                licensee=licensee,
                flop_budget=parse_flop(flop),
                devices=[load_identity(p) for p in device],
                not_before=now,
                not_after=now + days * DAY,
                policy=policy,
                directives=view.directives,
            )
        _report(logged, out)


@issue_app.command("device")
def issue_device(
    request_file: Annotated[Path, typer.Argument(help="A request from `licence request`.")],
    run_id: RunId,
    flop: Flop,
    out: OutOption,
    workspace: WorkspaceOption = Path("governance"),
) -> None:
    """Issue a device licence answering a request, under a run licence, and log it."""
    with reporting_errors():
        with _office(workspace) as (office, view, policy):
            logged = office.issue_device(
                load_envelope(request_file),
                run_id=run_id,
                flop_budget=parse_flop(flop),
                policy=policy,
                directives=view.directives,
            )
        _report(logged, out)


@app.command("install")
def install(
    licence_file: Annotated[Path, typer.Argument(help="A device licence file.")],
    device: DeviceDir,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Check against this workspace's published state."),
    ] = None,
) -> None:
    """Verify a device licence offline on the device and install it."""
    with reporting_errors():
        now = int(time.time())
        governor = open_governor(device)
        if workspace is not None:
            governor.observe(Workspace(workspace).view(), now, now)
        licence = governor.install_licence(load_envelope(licence_file), now)
        console.print(f"installed licence #{licence.sequence}: {governor.remaining()} FLOP left")


@app.command("show")
def show(
    file: Annotated[Path, typer.Argument(help="A run or device licence, request or receipt.")],
    root: Annotated[
        Path | None, typer.Option(help="A governance root file to check signatures against.")
    ] = None,
) -> None:
    """Print a licence, a request or a receipt in words (and check it against a root)."""
    with reporting_errors():
        envelope = load_envelope(file)
        for line in _describe(envelope):
            console.print(line, highlight=False)
        if root is not None:
            if envelope.payload_type not in (RUN_LICENCE_PAYLOAD_TYPE, DEVICE_LICENCE_PAYLOAD_TYPE):
                raise FormatError("only licences are signed by the root's licensing role")
            signers = verify_licensing(envelope, initial_root(load_envelope(root)))
            console.print(f"signed by {len(signers)} licensing key(s) of the root: valid")


def _describe(envelope: Envelope) -> tuple[str, ...]:
    kind = envelope.payload_type
    if kind == RUN_LICENCE_PAYLOAD_TYPE:
        return describe_run(parse_run_licence(envelope))
    if kind == DEVICE_LICENCE_PAYLOAD_TYPE:
        return (
            f"id         {licence_id(envelope)}",
            *describe_device(parse_device_licence(envelope)),
        )
    if kind == REQUEST_PAYLOAD_TYPE:
        r = parse_request(envelope)
        return (
            f"licence request from {r.serial} ({r.device_key[:16]}…), firmware "
            f"v{r.firmware_version}, at {r.time}",
        )
    if kind == RECEIPT_PAYLOAD_TYPE:
        c = parse_receipt(envelope)
        return (
            f"receipt #{c.sequence} from {c.serial}: {c.counters.flops} FLOP, "
            f"{c.counters.licensed_ops} licensed ops, licence #{c.licence_sequence}",
        )
    raise FormatError(f"{kind!r} is not a licence, request or receipt")
