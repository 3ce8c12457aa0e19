"""`pausebutton governance`, run as the governors would: ceremony, policy, pause, resume, status."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pausebutton.cli import governance
from pausebutton.device.governance_client import GovernanceClient
from pausebutton.governance import DeviceContext
from pausebutton.governance.provisioning import Provisioning
from pausebutton.governance.serve import RepositoryServer

# Mounted the way cli/main.py mounts it, so the tests do not depend on main.py.
app = typer.Typer()
app.add_typer(governance.app, name="governance")

DEVICE = DeviceContext("gpu-7", "lab-a", "US", "3A090.a")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUSEBUTTON_GOVERNANCE", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["governance", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _refused(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["governance", *args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def _governor(i: int, role: str) -> str:
    return f"ws/governors/governor-{i}/{role}.key"


def _sign_by(runner: CliRunner, kind: str, file: str, role: str, governors: range) -> list[str]:
    copies = []
    for i in governors:
        out = f"{file}.g{i}.json"
        _ok(runner, kind, "sign", file, "--key", _governor(i, role), "--out", out)
        copies.append(out)
    return copies


def _repo_files(tmp: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted((tmp / "ws" / "repo").rglob("*.json"))}


def test_ceremony_policy_pause_and_resume_end_to_end(runner: CliRunner, tmp_path: Path) -> None:
    out = _ok(runner, "init", "ws", "--governors", "5", "--threshold", "3")
    assert "root v1: 3-of-5" in out
    key_file = tmp_path / _governor(1, "pause")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "no policy" in _ok(runner, "status")

    out = _ok(runner, "policy", "propose", "policy.json", "--set", "freshness_s=3600")
    assert "needs 3 policy signatures (new_rule)" in out
    _ok(
        runner,
        "policy",
        "publish",
        *_sign_by(runner, "policy", "policy.json", "policy", range(1, 4)),
    )
    assert '"freshness_s": 3600' in _ok(runner, "policy", "show")

    _ok(runner, "directive", "draft", "pause.json", "--id", "p-1", "--reason", "council 7",
        "--jurisdiction", "US")  # fmt: skip
    two = _sign_by(runner, "directive", "pause.json", "pause", range(1, 3))
    _ok(runner, "directive", "combine", *two, "--out", "pause-2of5.json")
    before = _repo_files(tmp_path)
    message = _refused(runner, "directive", "publish", "pause-2of5.json")
    assert "SignatureError" in message
    assert "2 valid signature(s) from allowed keys, 3 required" in message
    assert _repo_files(tmp_path) == before
    third = _sign_by(runner, "directive", "pause.json", "pause", range(3, 4))
    _ok(runner, "directive", "combine", *two, *third, "--out", "pause-3of5.json")
    assert "log index 2" in _ok(runner, "directive", "publish", "pause-3of5.json")
    assert "in force: pause p-1: halt for devices in US" in _ok(runner, "status")

    provisioning = Provisioning.load(tmp_path / "ws" / "provisioning")
    with RepositoryServer(tmp_path / "ws" / "repo") as server:
        device = GovernanceClient(tmp_path / "device", server.url, provisioning)
        device.refresh()
        assert device.effect(DEVICE).directive_ids == ("p-1",)
        _ok(runner, "directive", "draft", "resume.json", "--id", "r-1", "--lifts", "p-1",
            "--reason", "council 8")  # fmt: skip
        copies = _sign_by(runner, "directive", "resume.json", "pause", range(2, 5))
        _ok(runner, "directive", "publish", *copies)
        device.refresh()
        assert device.effect(DEVICE).kind == "run"
    for source in ("repo", "log"):
        assert "lifted: pause p-1 by resume r-1" in _ok(runner, "status", "--from", source)
    assert "renewed 4 receipt(s)" in _ok(runner, "refresh", "--receipts")


def test_refusals_are_one_line_and_change_nothing(runner: CliRunner, tmp_path: Path) -> None:
    _ok(runner, "init", "ws", "-n", "3", "-k", "2", "--witnesses", "2")
    _refused(runner, "init", "ws")  # never overwrites a ceremony
    _refused(runner, "directive", "sign", "missing.json", "--key", _governor(1, "pause"))
    _ok(runner, "directive", "draft", "p.json", "--id", "p-1", "--reason", "r")
    exposed = tmp_path / _governor(1, "pause")
    exposed.chmod(0o644)
    assert "readable by others" in _refused(
        runner, "directive", "sign", "p.json", "--key", str(exposed)
    )
    copies = _sign_by(runner, "directive", "p.json", "pause", range(2, 4))
    before = _repo_files(tmp_path)
    assert "no policy" in _refused(runner, "directive", "publish", *copies)
    assert _repo_files(tmp_path) == before
    assert "FormatError" in _refused(runner, "policy", "propose", "x.json", "--set", "bogus=1")
    assert "freshness_s" in _refused(
        runner, "policy", "propose", "x.json", "--set", "freshness_s=-1"
    )
    assert "id" in _refused(
        runner, "directive", "draft", "y.json", "--id", "Bad Id", "--reason", "r"
    )
    assert not Path("x.json").exists()
    assert not Path("y.json").exists()
    assert "not a governance workspace" in _refused(runner, "status", "-w", "nowhere")


def test_serve_reports_a_busy_port_in_one_line(runner: CliRunner, tmp_path: Path) -> None:
    _ok(runner, "init", "ws", "-n", "3", "-k", "2", "--witnesses", "2")
    with RepositoryServer(tmp_path) as busy:
        port = busy.url.rsplit(":", 1)[1]
        assert "cannot listen" in _refused(runner, "serve", "--port", port)
