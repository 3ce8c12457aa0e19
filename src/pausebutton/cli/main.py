"""The `pausebutton` command: one Typer app with a sub-command per job."""

from __future__ import annotations

import typer

from pausebutton.cli import agent as agent_cli
from pausebutton.cli import demo, event, governance, keys, licence, log
from pausebutton.cli import device as device_cli
from pausebutton.cli import model as model_cli
from pausebutton.cli import registry as registry_cli
from pausebutton.cli import train as train_cli
from pausebutton.cli import verify as verify_cli

app = typer.Typer(
    help="pausebutton: the reference Compute Pause Button (governance, enforcement, verification).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(event.app, name="event")
app.add_typer(log.app, name="log")
app.add_typer(governance.app, name="governance")
app.add_typer(licence.app, name="licence")
app.add_typer(device_cli.app, name="device")
app.add_typer(model_cli.app, name="model")
app.add_typer(verify_cli.app, name="verify")
log.app.command("export")(verify_cli.log_export)
app.command("demo")(demo.demo)
app.command("train")(train_cli.train)
app.command("agent")(agent_cli.agent)
registry_cli.install(app)
