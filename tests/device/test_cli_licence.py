"""`pausebutton device` and `pausebutton licence`, run as a lab and the authority would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pausebutton.cli import device, licence
from pausebutton.crypto import Envelope
from pausebutton.crypto.keys import load_signing_key
from pausebutton.governance import Policy, combine, draft, draft_pause, sign
from pausebutton.governance.workspace import Workspace, init_workspace
from pausebutton.licensing import book_from_log
from pausebutton.log.tlog import TransparencyLog

# Mounted the way cli/main.py would mount them, so the tests do not depend on main.py.
app = typer.Typer()
app.add_typer(device.app, name="device")
app.add_typer(licence.app, name="licence")
DAY = 86_400


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUSEBUTTON_GOVERNANCE", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    now = int(time.time())
    init_workspace(
        tmp_path / "ws",
        governors=3,
        threshold=2,
        witnesses=3,
        witness_threshold=2,
        origin="authority.example/governance",
        expires=now + 365 * DAY,
        now=now,
    )
    _publish(tmp_path / "ws", draft(Policy(version=1, expires=now + 90 * DAY)), "policy")
    return CliRunner()


def _publish(ws: Path, envelope: Envelope, role: str) -> None:
    keys = [load_signing_key(ws / f"governors/governor-{i}/{role}.key") for i in (1, 2, 3)]
    signed = combine([sign(envelope, k) for k in keys])
    with Workspace(ws).publisher() as publisher:
        publisher.publish(signed, int(time.time()))


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _refused(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def _provision(runner: CliRunner, name: str) -> str:
    out = _ok(
        runner,
        *("device", "provision", name, "--serial", name, "--root", "ws/root-1.json"),
        *("--owner", "lab-a", "--jurisdiction", "US", "--chip-class", "3A090.a"),
    )
    assert "emulated secure element" in out
    return str(json.loads(Path(name, "device.json").read_text())["device_key"])


def test_a_device_is_provisioned_licensed_and_shown(runner: CliRunner, tmp_path: Path) -> None:
    _provision(runner, "gpu-a")
    _provision(runner, "gpu-b")
    licensee = "ab" * 32
    out = _ok(
        runner,
        *("licence", "issue", "run", "--run-id", "run-1", "--licensee", licensee),
        *("--flop", "2e12", "--device", "gpu-a/device.json", "--device", "gpu-b/device.json"),
        *("--out", "run.json"),
    )
    assert "note: 2e+12 FLOP is below notify_flop" in out
    _ok(runner, "licence", "request", "gpu-a", "--out", "req.json")
    assert "licence request from gpu-a" in _ok(runner, "licence", "show", "req.json")
    out = _ok(
        runner,
        *("licence", "issue", "device", "req.json", "--run-id", "run-1", "--flop", "1e12"),
        *("--out", "lic.json"),
    )
    assert "at log index" in out
    shown = _ok(runner, "licence", "show", "lic.json", "--root", "ws/root-1.json")
    assert "device licence #1 for gpu-a" in shown
    assert "signed by 1 licensing key(s) of the root: valid" in shown
    out = _ok(runner, "licence", "install", "lic.json", "gpu-a", "--workspace", "ws")
    assert "installed licence #1: 1000000000000 FLOP left" in out
    status = _ok(runner, "device", "status", "gpu-a")
    assert "licence    " in status
    assert "receipt    #1" in status
    assert "governance root v1, policy v1; fresh at" in status
    # The authority's log holds both licences; the book replays from it.
    workspace = Workspace(tmp_path / "ws")
    log = TransparencyLog.open(workspace.log_url, workspace.origin)
    try:
        book = book_from_log(enumerate(log.entries(0, log.size)))
    finally:
        log.close()
    assert list(book.runs) == ["run-1"]
    assert book.committed("run-1") == 10**12


def test_refusals_are_one_line(runner: CliRunner, tmp_path: Path) -> None:
    _provision(runner, "gpu-a")
    assert "already holds a device" in _refused(
        runner,
        *("device", "provision", "gpu-a", "--serial", "x", "--root", "ws/root-1.json"),
        *("--owner", "lab-a", "--jurisdiction", "US", "--chip-class", "3A090.a"),
    )
    base = ("licence", "issue", "run", "--run-id", "r", "--licensee", "ab" * 32)
    pod = ("--device", "gpu-a/device.json", "--out", "run.json")
    assert "ceiling_flop" in _refused(runner, *base, "--flop", "1e29", *pod)
    assert "not a FLOP count" in _refused(runner, *base, "--flop", "lots", *pod)
    now = int(time.time())
    _publish(tmp_path / "ws", draft_pause("p-1", issued=now, effective_at=now, reason="x"), "pause")
    assert "in the scope of pause p-1" in _refused(runner, *base, "--flop", "1e12", *pod)
    _ok(runner, "licence", "request", "gpu-a", "--out", "req.json")
    assert "no run licence 'r'" in _refused(
        runner, "licence", "issue", "device", "req.json", "--run-id", "r", "--flop", "1", "-o", "l"
    )
    assert "not a licence, request or receipt" in _refused(
        runner, "licence", "show", "ws/root-1.json"
    )
    assert "holds no device" in _refused(runner, "device", "status", "nowhere")
