"""`pausebutton agent`: one tick, or a few, against a real workspace served over HTTP."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from pausebutton.cli.agent import agent
from pausebutton.device.governor import Governor
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.device.sandbox import RUN_ID, open_sandbox
from pausebutton.device.secure_element import FileSecureElement


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("agent")(agent)
    app.command("other")(lambda: None)  # keep `agent` a sub-command, as in `pausebutton`
    return app


def test_agent_once_licenses_the_device_and_logs_its_receipts(tmp_path: Path) -> None:
    with open_sandbox(tmp_path / "sb", device_budget=10**6) as sb:
        authority = sb.workspace.directory
        common = [
            "agent",
            str(tmp_path / "sb" / "device"),
            "--url",
            sb.server.url,
            "--provisioning",
            str(authority / "provisioning"),
        ]
        full = [
            *common,
            "--workspace",
            str(authority),
            "--run-id",
            RUN_ID,
            "--flop",
            "1e6",
            "--operator-key",
            str(tmp_path / "sb" / "lab.key"),
            "--challenge",
            "challenge-cli-000000001",
            "--once",
        ]
        result = CliRunner().invoke(_app(), full, terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "licence #1 installed" in result.output
        assert "challenge challenge-cli-000000001 answered" in result.output
        assert "2 receipt(s) logged" in result.output
        governor = Governor(FileSecureElement(tmp_path / "sb" / "device"))
        assert governor.remaining() == 10**6
        key = governor.device_key
        assert len(sb.receipts()) == 2
        assert check_receipt_chain(sb.receipts(), {key.key_id: key}) == []

        looped = CliRunner().invoke(
            _app(), [*common, "--interval", "0", "--count", "2"], terminal_width=200
        )
        assert looped.exit_code == 0, looped.output
        assert looped.output.count("governance refresh ok") == 2

        half = CliRunner().invoke(_app(), [*common, "--run-id", RUN_ID])
        assert half.exit_code == 1
        assert "both --run-id and --flop" in half.output
        both = CliRunner().invoke(_app(), [*common, "--once", "--interval", "1"])
        assert both.exit_code == 1
        assert "exclude each other" in both.output
