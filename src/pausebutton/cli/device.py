"""`pausebutton device`: provision a device's (emulated) secure element, show its state."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import console, reporting_errors
from pausebutton.device.governor import Governor
from pausebutton.device.provision import DEFAULT_PEAK_FLOPS, describe_status, provision
from pausebutton.device.secure_element import FileSecureElement
from pausebutton.errors import FormatError
from pausebutton.governance.offline import load_envelope
from pausebutton.licensing.licences import PodDevice

app = typer.Typer(
    help="The device: provision its emulated secure element, show its state.",
    no_args_is_help=True,
)

IDENTITY = "device.json"
"""The device's public identity, written at provisioning (what a run licence lists)."""

DeviceDir = Annotated[Path, typer.Argument(help="The device's folder (its secure element).")]


def parse_flop(text: str) -> int:
    """Read a FLOP count written as digits (``100000``) or as ``1e26``."""
    mantissa, _, exponent = text.lower().partition("e")
    zeros = int(exponent) if exponent.isascii() and exponent.isdigit() else -1
    if mantissa.isascii() and mantissa.isdigit() and (not exponent or 0 <= zeros <= 40):
        return int(mantissa + "0" * max(zeros, 0))
    raise FormatError(f"{text!r} is not a FLOP count (write digits, or e.g. 1e26)")


def load_identity(path: Path) -> PodDevice:
    """Read a device's public identity (``device.json``) as a pod entry."""
    try:
        value = json.loads(path.read_text())
        fields = {name: value[name] for name in PodDevice.model_fields}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FormatError(f"{path} is not a device identity: {exc}") from None
    return PodDevice.model_validate(fields)


def open_governor(directory: Path) -> Governor:
    """The governor of the device in `directory`."""
    return Governor(FileSecureElement(directory))


@app.command("provision")
def provision_command(
    directory: DeviceDir,
    serial: Annotated[str, typer.Option(help="The chip's serial.")],
    root: Annotated[
        Path, typer.Option(help="The first governance root (provisioning/governance-root.json).")
    ],
    owner: Annotated[str, typer.Option(help="The owner, as pause scopes name it.")],
    jurisdiction: Annotated[str, typer.Option(help="Where the device is (e.g. US).")],
    chip_class: Annotated[str, typer.Option(help="Its export class (e.g. 3A090.a).")],
    peak_flops: Annotated[str, typer.Option(help="Peak FLOP/s (throttling).")] = str(
        DEFAULT_PEAK_FLOPS
    ),
) -> None:
    """Make the device keys and a state file holding the governance root of trust."""
    with reporting_errors():
        peak = parse_flop(peak_flops)
        envelope = load_envelope(root)
        element = FileSecureElement.create(directory)
        governor = provision(
            element,
            serial=serial,
            root=envelope,
            owner=owner,
            jurisdiction=jurisdiction,
            chip_class=chip_class,
            peak_flops=peak,
            now=int(time.time()),
        )
        identity = {
            **PodDevice(
                device_key=governor.device_key.key_id,
                serial=serial,
                owner=owner,
                jurisdiction=jurisdiction,
                chip_class=chip_class,
            ).model_dump(),
            "public_key": governor.device_key.to_base64(),
            "x25519_key": base64.b64encode(governor.x25519_public()).decode(),
        }
        (directory / IDENTITY).write_text(json.dumps(identity, indent=2) + "\n")
        console.print(f"device {serial} provisioned in {directory} (emulated secure element)")
        console.print(f"device key   {governor.device_key.key_id}")
        console.print(f"public key   {identity['public_key']}")
        console.print(f"x25519 key   {identity['x25519_key']}")
        console.print(f"identity     {directory / IDENTITY}")


@app.command("status")
def status_command(directory: DeviceDir) -> None:
    """Show the counters, the licence, the last receipt and the governance freshness."""
    with reporting_errors():
        for line in describe_status(open_governor(directory), int(time.time())):
            console.print(line, highlight=False)
