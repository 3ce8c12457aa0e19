"""`pausebutton keys`: make Ed25519 keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pausebutton.cli.common import console, reporting_errors
from pausebutton.crypto import SigningKey, load_signing_key, save_signing_key
from pausebutton.log import note

app = typer.Typer(help="Make and inspect Ed25519 keys.", no_args_is_help=True)


@app.command("new")
def new(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (mode 0600).")],
    name: Annotated[
        str | None,
        typer.Option(help="Also print the C2SP verifier key under this name (log or witness)."),
    ] = None,
) -> None:
    """Generate a key: PATH gets the private key, PATH.pub the base64 public key."""
    with reporting_errors():
        key = SigningKey.generate()
        save_signing_key(key, path)
        pub = path.with_name(path.name + ".pub")
        pub.write_text(key.public.to_base64() + "\n")
        console.print(f"private key  {path}  (mode 0600)")
        console.print(f"public key   {pub}")
        console.print(f"key id       {key.key_id}")
        if name is not None:
            console.print(f"note vkey    {note.Signer.from_signing_key(name, key).vkey()}")


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A private key file made by `keys new`.")],
    name: Annotated[
        str | None, typer.Option(help="Also print the C2SP verifier key under this name.")
    ] = None,
) -> None:
    """Print a key's id and public key (never the private key)."""
    with reporting_errors():
        key = load_signing_key(path)
        console.print(f"key id       {key.key_id}")
        console.print(f"public key   {key.public.to_base64()}")
        if name is not None:
            console.print(f"note vkey    {note.Signer.from_signing_key(name, key).vkey()}")
