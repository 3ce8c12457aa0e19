"""The examples in docs/formats/proof-bundles.md, keys.md and docs/log.md are real output.

Each test reruns the code behind a documented example with the same fixed keys and inputs
and checks that the page still shows exactly what the code produces, so the docs cannot
rot. A marked example is the code block after ``<!-- marker -->``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pausebutton.cli.main import app
from pausebutton.crypto import SigningKey, load_signing_key
from pausebutton.log import merkle, note
from pausebutton.log.proofs import ConsistencyBundle, InclusionBundle, bundle_bytes
from pausebutton.log.tiles import tile_path
from pausebutton.log.tlog import TransparencyLog
from pausebutton.store.models import log_tiles

DOCS = Path(__file__).parents[1] / "docs"
BUNDLES_DOC = DOCS / "formats" / "proof-bundles.md"
KEYS_DOC = DOCS / "formats" / "keys.md"
LOG_DOC = DOCS / "log.md"
ORIGIN = "example.org/log"


def block(doc: Path, marker: str) -> str:
    """Return the text of the code block marked ``<!-- marker -->`` (no final newline)."""
    text = doc.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert match, f"no block marked {marker} in {doc}"
    return match.group(1)


def run_script(code: str) -> str:
    """Run a documented Python example in the current directory; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc example>", "exec"), {"__name__": "__doc_example__"})
    return out.getvalue()


def transcript(runner: CliRunner, commands: list[str]) -> str:
    """Run `pausebutton` commands (or a chmod) and render them as a console transcript."""
    lines = []
    for command in commands:
        lines.append(f"$ {command}")
        argv = shlex.split(command)
        if argv[0] == "chmod":
            os.chmod(argv[2], int(argv[1], 8))
            continue
        assert argv[0] == "pausebutton"
        lines.append(runner.invoke(app, argv[1:]).output.rstrip("\n"))
    return "\n".join(lines)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner working in an empty temporary directory, with no settings inherited."""
    monkeypatch.chdir(tmp_path)
    for name in ("PAUSEBUTTON_DB", "PAUSEBUTTON_ORIGIN", "PAUSEBUTTON_LOG_KEY",
                 "PAUSEBUTTON_REGISTRARS", "PAUSEBUTTON_LOG_VKEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


# --- docs/formats/proof-bundles.md ---------------------------------------------------------


def log_signer() -> note.Signer:
    return note.Signer.from_signing_key(ORIGIN, SigningKey.from_seed(b"\x01" * 32))


def make_bundles(tmp: Path) -> tuple[bytes, bytes]:
    """Run the documented setup (block example-setup) in `tmp`; return the two bundles."""
    names = {
        "note": note,
        "SigningKey": SigningKey,
        "TransparencyLog": TransparencyLog,
        "bundle_bytes": bundle_bytes,
        "tmp": tmp,
    }
    exec(compile(block(BUNDLES_DOC, "example-setup"), "<doc example-setup>", "exec"), names)
    names["log"].close()
    return names["inclusion"], names["consistency"]


@pytest.mark.parametrize(
    ("marker", "model"),
    [("schema-inclusion", InclusionBundle), ("schema-consistency", ConsistencyBundle)],
)
def test_documented_bundle_schemas_are_the_models_schemas(
    marker: str, model: type[InclusionBundle] | type[ConsistencyBundle]
) -> None:
    assert block(BUNDLES_DOC, marker) == json.dumps(model.model_json_schema(), indent=2)


def test_documented_bundles_are_what_the_log_produces(tmp_path: Path) -> None:
    inclusion, consistency = make_bundles(tmp_path)
    assert block(BUNDLES_DOC, "example-vkey") == log_signer().vkey()
    assert block(BUNDLES_DOC, "example-inclusion") == inclusion.decode()
    assert block(BUNDLES_DOC, "example-consistency") == consistency.decode()
    assert f"({len(inclusion)} bytes;" in BUNDLES_DOC.read_text(encoding="utf-8")
    for marker, data in [("inclusion", inclusion), ("consistency", consistency)]:
        indented = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        assert block(BUNDLES_DOC, f"example-{marker}-indented") == indented


def test_documented_proof_subtrees_are_the_rfc_9162_ranges() -> None:
    text = BUNDLES_DOC.read_text(encoding="utf-8")
    for i, (lo, hi) in enumerate(merkle.inclusion_ranges(2, 5)):
        assert f"| {i} | [{lo}, {hi}) |" in text
    ranges = [f"[{lo}, {hi})" for lo, hi in merkle.consistency_ranges(3, 5)]
    assert f"{', '.join(ranges[:-1])} and {ranges[-1]}" in text


def _write_example_files(tmp: Path) -> None:
    inclusion, consistency = make_bundles(tmp)
    (tmp / "inclusion.json").write_bytes(inclusion)
    (tmp / "consistency.json").write_bytes(consistency)
    (tmp / "entry2.bin").write_bytes(b"entry 2")
    (tmp / "entry3.bin").write_bytes(b"entry 3")
    tampered = json.loads(inclusion)
    tampered["index"] = 3
    (tmp / "tampered.json").write_text(json.dumps(tampered))


def test_documented_cli_verification_is_what_the_cli_prints(
    runner: CliRunner, tmp_path: Path
) -> None:
    _write_example_files(tmp_path)
    vkey = log_signer().vkey()
    commands = [
        f"pausebutton log verify inclusion.json --vkey {vkey} --entry entry2.bin",
        f"pausebutton log verify inclusion.json --vkey {vkey}",
        f"pausebutton log verify consistency.json --vkey {vkey}",
        f"pausebutton log verify inclusion.json --vkey {vkey} --entry entry3.bin",
        f"pausebutton log verify tampered.json --vkey {vkey}",
    ]
    assert block(BUNDLES_DOC, "example-cli-verify") == transcript(runner, commands)


def test_documented_hand_verification_prints_what_the_doc_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_example_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    printed = run_script(block(BUNDLES_DOC, "example-by-hand"))
    assert printed.rstrip("\n") == block(BUNDLES_DOC, "example-by-hand-output")


def test_hand_verification_refuses_a_tampered_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_example_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inclusion.json").write_bytes((tmp_path / "tampered.json").read_bytes())
    with pytest.raises(AssertionError, match="does not lead to the signed root"):
        run_script(block(BUNDLES_DOC, "example-by-hand"))


# --- docs/formats/keys.md ------------------------------------------------------------------


def test_documented_keys_are_what_the_code_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    printed = run_script(block(KEYS_DOC, "example-keys-code"))
    assert printed.rstrip("\n") == block(KEYS_DOC, "example-keys-output")
    assert (tmp_path / "log.key").read_text() == block(KEYS_DOC, "example-private-key") + "\n"
    assert (tmp_path / "log.key").stat().st_mode & 0o777 == 0o600
    pub = (tmp_path / "log.key.pub").read_text()
    assert pub == block(KEYS_DOC, "example-public-key") + "\n"
    key_id = SigningKey.from_seed(b"\x01" * 32).key_id
    expected = f"$ base64 -d log.key.pub | sha256sum\n{key_id}  -"
    assert block(KEYS_DOC, "example-key-id") == expected
    assert key_id in printed
    # The documented PKCS#8 header and seed are the file's DER bytes.
    der = "302e020100300506032b657004220420" + "01" * 32
    text = KEYS_DOC.read_text(encoding="utf-8")
    assert "`302e020100300506032b657004220420`" in text
    body = "".join(block(KEYS_DOC, "example-private-key").splitlines()[1:-1])
    assert base64.b64decode(body).hex() == der


def test_documented_keys_cli_is_what_the_cli_prints(runner: CliRunner) -> None:
    run_script(block(KEYS_DOC, "example-keys-code"))
    commands = [
        f"pausebutton keys show log.key --name {ORIGIN}",
        "pausebutton keys new log.key",
        "chmod 640 log.key",
        "pausebutton keys show log.key",
    ]
    assert block(KEYS_DOC, "example-keys-cli") == transcript(runner, commands)


def test_documented_signer_key_import_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_script(block(KEYS_DOC, "example-skey-to-file"))
    imported = load_signing_key(tmp_path / "imported.key")
    assert imported.seed() == b"\x01" * 32
    assert note.Signer.from_signing_key(ORIGIN, imported).skey() in block(
        KEYS_DOC, "example-skey-to-file"
    )


# --- docs/log.md ---------------------------------------------------------------------------


def test_documented_tiles_are_the_stored_rows(tmp_path: Path) -> None:
    log = TransparencyLog.open(f"sqlite:///{tmp_path}/tiles.db", origin=ORIGIN)
    log.append([b"entry %d" % i for i in range(600)])
    with log.engine.connect() as conn:
        rows = conn.execute(select(log_tiles).order_by(log_tiles.c.level, log_tiles.c.idx)).all()
    log.close()
    lines = ["level  idx  hashes  inner  C2SP path"]
    for row in rows:
        inner = "NULL" if row.inner is None else str(len(row.inner))
        path = tile_path(row.level, row.idx, len(row.hashes) // 32)
        lines.append(f"{row.level:<6} {row.idx:<4} {len(row.hashes):<7} {inner:<6} {path}")
    assert block(LOG_DOC, "example-tiles") == "\n".join(lines)


def test_documented_witness_run_prints_what_the_doc_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    printed = run_script(block(LOG_DOC, "example-witness"))
    assert printed.rstrip("\n") == block(LOG_DOC, "example-witness-output")
