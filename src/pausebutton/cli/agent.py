"""`pausebutton agent`: keep a device in touch with the authority (once, or every S seconds).

Each tick refreshes governance over TUF and shows it to the governor, renews the licence
when it runs low, answers challenges and uploads receipts (`device.agent`). Until the
authority's HTTP API exists, the licensing desk and the receipt intake run in-process
against a governance workspace (``--workspace``): the licensing office signs with the
workspace's ``operators/licensing.key``, and receipt events signed with
``--operator-key`` are checked against this device's key before they are appended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import console, reporting_errors
from pausebutton.cli.device import DeviceDir, open_governor, parse_flop
from pausebutton.crypto.keys import load_signing_key
from pausebutton.device.agent import Agent, OfficeDesk
from pausebutton.device.governance_client import GovernanceClient
from pausebutton.device.governor import Governor
from pausebutton.device.receipt_events import DeviceKeys
from pausebutton.errors import FormatError
from pausebutton.governance.provisioning import Provisioning
from pausebutton.governance.workspace import Workspace
from pausebutton.licensing.office import LicensingOffice
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog


@contextmanager
def _agent(
    governor: Governor,
    device: Path,
    url: str,
    provisioning: Path,
    workspace: Path | None,
    run_id: str | None,
    flop: str | None,
    operator_key: Path | None,
    operator_role: str,
    challenges: list[str],
) -> Iterator[Agent]:
    """The device's agent, with an in-process desk and intake on `workspace` if given."""
    client = GovernanceClient(device / "governance", url, Provisioning.load(provisioning))
    if (run_id is None) != (flop is None):
        raise FormatError("licence renewal needs both --run-id and --flop")
    if workspace is None and (run_id is not None or operator_key is not None):
        raise FormatError("--run-id and --operator-key need --workspace (the in-process authority)")
    with ExitStack() as stack:
        desk = sink = operator = None
        if workspace is not None:
            ws = Workspace(workspace)
            log = TransparencyLog.open(ws.log_url, ws.origin)
            stack.callback(log.close)
            if run_id is not None and flop is not None:
                key = load_signing_key(ws.directory / "operators" / "licensing.key")
                office = LicensingOffice(log, [key], lambda: ws.view().root)
                desk = OfficeDesk(office, run_id, parse_flop(flop), ws.view)
            if operator_key is not None:
                operator = load_signing_key(operator_key)
                actor = ActorKey(operator.public, frozenset({operator_role}), name=operator_role)
                sink = EventLog(log, anchors=[actor], projector=DeviceKeys([governor.device_key]))
        pending = list(challenges)

        def take() -> list[str]:
            taken = pending.copy()
            pending.clear()
            return taken

        yield Agent(
            governor,
            client,
            desk=desk,
            sink=sink,
            operator=operator,
            challenges=take,
            outbox=device / "outbox",
        )


def agent(
    device: DeviceDir,
    url: Annotated[
        str,
        typer.Option(
            "--url", envvar="PAUSEBUTTON_GOVERNANCE_URL", help="The governance TUF repository."
        ),
    ],
    provisioning: Annotated[
        Path, typer.Option(help="The provisioning folder the device was made with.")
    ],
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="In-process authority: licensing and receipt intake."
        ),
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Renew licences under this run.")] = None,
    flop: Annotated[str | None, typer.Option(help="Budget of each renewed licence.")] = None,
    operator_key: Annotated[
        Path | None, typer.Option(help="The operator's key, to sign receipt events.")
    ] = None,
    operator_role: Annotated[str, typer.Option(help="The operator's registered role.")] = "lab",
    challenge: Annotated[
        list[str] | None, typer.Option(help="A challenge nonce to answer (repeat).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Tick once and exit (the default).")] = False,
    interval: Annotated[
        float | None, typer.Option(help="Tick every this many seconds (default: once).")
    ] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many ticks.")] = None,
) -> None:
    """Refresh governance, renew the licence, answer challenges, upload receipts."""
    with reporting_errors():
        if once and interval is not None:
            raise FormatError("--once and --interval exclude each other")
        governor = open_governor(device)
        with _agent(
            governor,
            device,
            url,
            provisioning,
            workspace,
            run_id,
            flop,
            operator_key,
            operator_role,
            challenge or [],
        ) as made:
            ticks = 1 if interval is None else count
            done = 0
            try:
                while ticks is None or done < ticks:
                    if done:
                        time.sleep(interval or 0)
                    for line in made.tick().lines():
                        console.print(line, highlight=False)
                    done += 1
            except KeyboardInterrupt:
                console.print("stopped")
