"""`pausebutton event`: make a signed event file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import console, reporting_errors
from pausebutton.crypto import load_signing_key
from pausebutton.errors import FormatError
from pausebutton.registry.events import make_event

app = typer.Typer(help="Make signed events to submit with `log append`.", no_args_is_help=True)


@app.command("new")
def new(
    event_type: Annotated[str, typer.Argument(help="Event type, e.g. log.note.")],
    key: Annotated[Path, typer.Option(help="The submitting actor's key file.")],
    payload: Annotated[str, typer.Option(help="The payload as a JSON object.")],
    out: Annotated[Path, typer.Option(help="Where to write the signed event.")],
    cosigner: Annotated[
        list[Path] | None, typer.Option(help="Key files of co-signers the type requires.")
    ] = None,
) -> None:
    """Sign an event (type, payload, time, nonce) as the actor and write it to OUT."""
    with reporting_errors():
        try:
            body = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise FormatError(f"--payload is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise FormatError("--payload must be a JSON object")
        cosigners = [load_signing_key(p) for p in cosigner or []]
        envelope = make_event(event_type, body, load_signing_key(key), cosigners=cosigners)
        out.write_bytes(envelope.to_bytes())
        console.print(f"wrote {event_type} event to {out}")
