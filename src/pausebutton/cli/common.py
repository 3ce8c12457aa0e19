"""What every command shares: the console, settings from options or the environment, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pausebutton.crypto import load_signing_key
from pausebutton.errors import Error
from pausebutton.log import note

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DEFAULT_DB = "sqlite:///pausebutton.db"
DEFAULT_ORIGIN = "pausebutton.example/log"

DbOption = Annotated[
    str, typer.Option("--db", envvar="PAUSEBUTTON_DB", help="Database URL of the log.")
]
OriginOption = Annotated[
    str,
    typer.Option("--origin", envvar="PAUSEBUTTON_ORIGIN", help="The log's origin (C2SP name)."),
]
LogKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key", envvar="PAUSEBUTTON_LOG_KEY", help="The log's signing key file (for checkpoints)."
    ),
]


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn pausebutton's typed errors into one clear line on stderr and exit status 1."""
    try:
        yield
    except Error as exc:
        err_console.print(f"[bold red]error[/] ({type(exc).__name__}): {exc}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        # A missing or unreadable file named on the command line: say which, no traceback.
        err_console.print(f"[bold red]error[/] (OSError): {exc}", highlight=False)
        raise typer.Exit(1) from None


def log_signer(origin: str, key_path: Path | None) -> note.Signer | None:
    """Load the log's note signer from a key file, if one was given."""
    if key_path is None:
        return None
    return note.Signer.from_signing_key(origin, load_signing_key(key_path))
