"""The registry's commands, run as users would: register, manufacture, sell, export, replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pausebutton.cli.registry import install
from pausebutton.crypto import SigningKey, save_signing_key

app = typer.Typer()
install(app)

KYC = {
    "entity": "acme",
    "legal_name": "Acme Ltd",
    "jurisdiction": "TW",
    "beneficial_owners": ["Ada Owner"],
    "documents": [{"kind": "certificate_of_incorporation", "issuer": "MOEA", "number": "1"}],
}


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUSEBUTTON_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PAUSEBUTTON_ORIGIN", "cli.example/log")
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output
    return result.output


def _key(name: str) -> SigningKey:
    key = SigningKey.generate()
    save_signing_key(key, Path(f"{name}.key"))
    Path(f"{name}.key.pub").write_text(key.public.to_base64() + "\n")
    return key


def _register(runner: CliRunner, name: str, role: str, jurisdiction: str) -> SigningKey:
    key = _key(name)
    Path(f"{name}.json").write_text(
        json.dumps({**KYC, "entity": name, "jurisdiction": jurisdiction})
    )
    ok(
        runner,
        "actor",
        "register",
        f"{name}.key.pub",
        "--name",
        name,
        "--role",
        role,
        "--kyc",
        f"{name}.json",
        "--registrar-key",
        "reg.key",
    )
    return key


def test_a_chip_from_fab_to_buyer_and_replay(runner: CliRunner) -> None:
    _key("reg")
    maker = _register(runner, "acme", "manufacturer", "TW")
    buyer = _register(runner, "dist", "distributor", "TW")
    _key("device")
    x25519 = base64.b64encode(bytes(range(32))).decode()
    out = ok(
        runner,
        "chip",
        "manufacture",
        "S1",
        "--key",
        "acme.key",
        "--model",
        "H100",
        "--jurisdiction",
        "TW",
        "--device-key",
        "device.key.pub",
        "--x25519-key",
        x25519,
        "--die",
        "D1",
        "--hbm",
        "H1",
        "--hbm",
        "H2",
        "--spec-name",
        "H100",
    )
    assert "appended chip.manufactured" in out
    ok(
        runner,
        "transfer",
        "offer",
        "S1",
        "--key",
        "acme.key",
        "--buyer",
        buyer.key_id,
        "--out",
        "offer.json",
    )
    assert "appended chip.transferred" in ok(
        runner, "transfer", "accept", "offer.json", "--key", "dist.key"
    )
    shown = ok(runner, "chip", "show", "S1")
    assert buyer.key_id in shown
    assert "chip.transferred" in shown
    assert "needs a licence to CN" in ok(runner, "export", "check", "S1", "CN")
    assert "1 chips" in ok(runner, "chip", "list", "--holder", buyer.key_id)
    assert maker.key_id in ok(runner, "actor", "list", "--role", "manufacturer")
    out = ok(runner, "registry", "replay", "--compare")
    assert "OK:" in out


def test_a_refused_event_is_one_line_and_changes_nothing(runner: CliRunner) -> None:
    _key("reg")
    _register(runner, "acme", "manufacturer", "TW")
    before = ok(runner, "registry", "digest")
    out = fails(
        runner,
        "chip",
        "event",
        "chip.transferred",
        "S9",
        "--key",
        "acme.key",
        "--set",
        "buyer=" + "0" * 64,
    )
    assert "error (SignatureError)" in out or "error (ValidationError)" in out
    assert ok(runner, "registry", "digest") == before


def test_kyc_opening_is_revealed_and_verified(runner: CliRunner) -> None:
    _key("reg")
    maker = _register(runner, "acme", "manufacturer", "TW")
    ok(runner, "actor", "reveal", maker.key_id, "--out", "opening.json")
    assert "OK opening" in ok(runner, "actor", "verify-opening", "opening.json")
    opening = json.loads(Path("opening.json").read_text())
    opening["record"]["beneficial_owners"] = ["Someone Else"]
    Path("forged.json").write_text(json.dumps(opening))
    assert "does not open" in fails(runner, "actor", "verify-opening", "forged.json")


def test_classify_by_name_and_from_a_file(runner: CliRunner) -> None:
    assert "3A090.a" in ok(runner, "classify", "--name", "H100")
    Path("spec.json").write_text(json.dumps({"name": "Small", "dense_tops_by_bits": {"8": 100}}))
    data = json.loads(ok(runner, "classify", "spec.json", "--json"))
    assert data["eccn"] == "not controlled"
    assert data["tpp"] == 800
    assert "error" in fails(runner, "classify", "--name", "No Such Chip")
