"""`pausebutton model`: lock safetensors weights to devices, unlock them, inspect a container."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.cli.common import console, reporting_errors
from pausebutton.crypto import VerifyKey, load_signing_key, parse_json
from pausebutton.device import container, locking
from pausebutton.errors import FormatError

app = typer.Typer(help="Lock model weights to devices; unlock them past the governor.")

STANDING_FORMAT = "pausebutton.device-standing/v1"
MAX_STANDING_BYTES = 64 * 1024


class _Licence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    not_before: int
    not_after: int


class StandingFile(BaseModel):
    """An interim device-standing file: the licence window and the pause in force, if any."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: Literal["pausebutton.device-standing/v1"]
    licence: _Licence | None
    pause: str | None = Field(max_length=256)


def load_standing(path: Path) -> locking.Standing:
    """Read a device-standing file into the `Standing` a `StandingGate` decides on."""
    try:
        parsed = StandingFile.model_validate(
            parse_json(path.read_bytes(), limit=MAX_STANDING_BYTES)
        )
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FormatError(
            f"{path}: not a {STANDING_FORMAT} file ({where}: {first['msg']})"
        ) from None
    licence = parsed.licence
    return locking.Standing(
        licence_not_before=None if licence is None else licence.not_before,
        licence_not_after=None if licence is None else licence.not_after,
        pause=parsed.pause,
    )


def _gate(state: Path | None) -> locking.UnlockGate:
    # TODO(governor): when device/governor.py lands, build the gate from the governor's
    # persisted state (it implements UnlockGate.may_unlock) and drop the interim file.
    # Without any state the gate refuses: an unknown standing fails closed.
    return locking.StandingGate(None if state is None else load_standing(state))


def _recipient(text: str) -> bytes:
    path = Path(text)
    if path.is_file():
        text = path.read_text().strip()
    try:
        return VerifyKey.from_base64(text).raw
    except FormatError:
        raise FormatError(f"--to {text!r}: not a base64 X25519 key or a .pub file") from None


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` atomically (a temporary file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_x25519_key(key: X25519PrivateKey, path: Path) -> None:
    """Write an X25519 private key as PKCS#8 PEM to a new owner-only (0600) file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FormatError(f"{path} exists; refusing to overwrite a key file") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_x25519_key(path: Path) -> X25519PrivateKey:
    """Load a key written by `save_x25519_key`; refuse one that others can read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FormatError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o})")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{path} is not an unencrypted PKCS#8 PEM key: {exc}") from None
    if not isinstance(key, X25519PrivateKey):
        raise FormatError(f"{path} holds a {type(key).__name__}, not an X25519 key")
    return key


@app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the X25519 private key (0600).")],
) -> None:
    """Make a device X25519 key: PATH gets the private key, PATH.pub the base64 public key."""
    with reporting_errors():
        key = X25519PrivateKey.generate()
        save_x25519_key(key, path)
        public = key.public_key()
        pub = path.with_name(path.name + ".pub")
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        pub.write_text(container.b64(raw) + "\n")
        console.print(f"private key  {path}  (mode 0600)")
        console.print(f"public key   {pub}")
        console.print(f"key id       {locking.x25519_key_id(public)}")


@app.command("lock")
def lock(
    weights: Annotated[Path, typer.Argument(help="The model's weights, a .safetensors file.")],
    to: Annotated[
        list[str], typer.Option("--to", help="A device's X25519 key (base64 or .pub); repeat.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the locked model.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: the file's stem).")] = None,
    sign: Annotated[
        Path | None, typer.Option("--sign", help="Sign as publisher with this Ed25519 key file.")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Bytes per chunk.")
    ] = container.DEFAULT_CHUNK_SIZE,
) -> None:
    """Lock WEIGHTS to the devices named by --to."""
    with reporting_errors():
        publisher = None if sign is None else load_signing_key(sign)
        locked = locking.lock(
            weights.read_bytes(),
            [_recipient(text) for text in to],
            model=weights.stem if name is None else name,
            publisher=publisher,
            chunk_size=chunk_size,
        )
        _write(out, locked, 0o644)
        header = locking.inspect(locked)
        console.print(f"locked {header.model!r} to {len(header.recipients)} device(s): {out}")
        console.print(f"container id {header.container_id}")


@app.command("unlock")
def unlock(
    locked: Annotated[Path, typer.Argument(help="A locked model made by `model lock`.")],
    device_key: Annotated[
        Path, typer.Option("--device-key", help="This device's X25519 private key file.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the weights (mode 0600).")],
    state: Annotated[
        Path | None,
        typer.Option(help=f"The device's standing ({STANDING_FORMAT}); none refuses."),
    ] = None,
    publisher: Annotated[
        str | None, typer.Option(help="Require this publisher's Ed25519 key (base64).")
    ] = None,
    now: Annotated[int | None, typer.Option(help="Unix time to decide at (default: now).")] = None,
) -> None:
    """Unlock a model for this device, if its licence and the pause state allow."""
    with reporting_errors():
        key = load_x25519_key(device_key)
        weights = locking.unlock(
            locked.read_bytes(),
            key,
            locking.x25519_key_id(key.public_key()),
            _gate(state),
            int(time.time()) if now is None else now,
            publisher=None if publisher is None else VerifyKey.from_base64(publisher),
        )
        _write(out, weights, 0o600)
        console.print(f"unlocked {len(weights)} bytes of safetensors: {out}")


@app.command("inspect")
def inspect(
    locked: Annotated[Path, typer.Argument(help="A locked model.")],
) -> None:
    """Print a locked model's header (checks structure and signature; decrypts nothing)."""
    with reporting_errors():
        header = locking.inspect(locked.read_bytes())
        summary = {"header": header.model_dump(mode="json"), "chunks": header.chunk_count()}
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
