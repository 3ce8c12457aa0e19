"""Run the command line as `python -m pausebutton`."""

from pausebutton.cli.main import app

app()
