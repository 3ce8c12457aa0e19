"""The `pausebutton` command, run as a user would: keys, events, the log, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pausebutton.cli.main import app

ORIGIN = "cli.example/log"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUSEBUTTON_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PAUSEBUTTON_ORIGIN", ORIGIN)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _setup(runner: CliRunner) -> str:
    out = _ok(runner, "keys", "new", "log.key", "--name", ORIGIN)
    vkey = next(line.split()[-1] for line in out.splitlines() if line.startswith("note vkey"))
    _ok(runner, "keys", "new", "reg.key")
    _ok(runner, "keys", "new", "lab.key")
    lab_pub = Path("lab.key.pub").read_text().strip()
    payload = json.dumps({"name": "Lab", "roles": ["lab"], "public_key": lab_pub})
    _ok(runner, "event", "new", "actor.registered", "--key", "reg.key", "--payload", payload,
        "--out", "register.json")  # fmt: skip
    _ok(runner, "event", "new", "log.note", "--key", "lab.key", "--payload", '{"text": "hi"}',
        "--out", "note.json")  # fmt: skip
    return vkey


def test_keys_events_append_prove_and_verify_offline(runner: CliRunner) -> None:
    vkey = _setup(runner)
    out = _ok(runner, "log", "append", "register.json", "note.json",
              "--registrar", "reg.key.pub", "--key", "log.key")  # fmt: skip
    assert "note.json at index 1" in out
    _ok(runner, "log", "prove", "1", "--key", "log.key", "--out", "bundle.json")
    _ok(runner, "log", "get", "1", "--out", "entry.bin")
    out = _ok(runner, "log", "verify", "bundle.json", "--vkey", vkey, "--entry", "entry.bin")
    assert "OK entry at index 1" in out
    checkpoint = _ok(runner, "log", "checkpoint", "--key", "log.key")
    assert checkpoint.startswith(f"{ORIGIN}\n2\n")
    status = _ok(runner, "log", "status")
    assert "size               2" in status
    shown = _ok(runner, "keys", "show", "log.key", "--name", ORIGIN)
    assert vkey in shown


def test_consistency_bundle_from_the_cli(runner: CliRunner) -> None:
    vkey = _setup(runner)
    _ok(runner, "log", "append", "register.json", "--registrar", "reg.key.pub")
    _ok(runner, "log", "checkpoint", "--key", "log.key")
    _ok(runner, "log", "append", "note.json", "--registrar", "reg.key.pub")
    _ok(runner, "log", "checkpoint", "--key", "log.key")
    _ok(runner, "log", "prove", "--since", "1", "--key", "log.key", "--out", "c.json")
    assert "extends the one at size 1" in _ok(runner, "log", "verify", "c.json", "--vkey", vkey)


def test_replayed_event_file_is_refused_with_a_clear_error(runner: CliRunner) -> None:
    _setup(runner)
    _ok(runner, "log", "append", "register.json", "note.json", "--registrar", "reg.key.pub")
    result = runner.invoke(app, ["log", "append", "note.json", "--registrar", "reg.key.pub"])
    assert result.exit_code == 1
    assert "ReplayError" in result.output
    assert "Traceback" not in result.output
    assert "size               2" in _ok(runner, "log", "status")


def test_tampered_bundle_is_refused(runner: CliRunner) -> None:
    vkey = _setup(runner)
    _ok(runner, "log", "append", "register.json", "note.json", "--registrar", "reg.key.pub")
    _ok(runner, "log", "prove", "0", "--key", "log.key", "--out", "bundle.json")
    bundle = json.loads(Path("bundle.json").read_text())
    bundle["index"] = 1
    Path("bundle.json").write_text(json.dumps(bundle))
    result = runner.invoke(app, ["log", "verify", "bundle.json", "--vkey", vkey])
    assert result.exit_code == 1
    assert "ProofError" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["log", "verify", "garbage.json", "--vkey", "x+00000000+AAAA"], "FormatError"),
        (["log", "prove"], "either a leaf INDEX or --since"),
        (["log", "get", "99"], "beyond the log size"),
        (["event", "new", "log.note", "--key", "missing.key", "--payload", "{}", "--out", "o"],
         "no key file"),
        (["event", "new", "log.note", "--key", "lab.key", "--payload", "[1]", "--out", "o"],
         "must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_cli_input_gets_one_clear_line(
    runner: CliRunner, args: list[str], message: str
) -> None:
    _setup(runner)
    Path("garbage.json").write_text("{not json")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_demo_runs_end_to_end_as_a_real_process(tmp_path: Path) -> None:
    """The README's first command, minus the install: a real process on embedded SQLite."""
    exe = Path(sys.executable).with_name("pausebutton")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "pausebutton"]
    result = subprocess.run(
        [*command, "demo", "--events", "1500", "--batch", "500", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "160"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 attacks refused, 1 tampering caught" in result.stdout
    assert (tmp_path / "d" / "demo.db").exists()


def test_missing_file_is_one_clear_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["log", "append", "nowhere.json"])
    assert result.exit_code == 1
    assert "nowhere.json" in result.output
    assert "Traceback" not in result.output
