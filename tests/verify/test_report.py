"""The report: JSON for machines, and an HTML page that opens in a real browser, every section."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pausebutton.log.checkpoint import Checkpoint
from pausebutton.log.cosignature import CosignatureSigner, Witness
from pausebutton.log.note import parse_signed_note
from pausebutton.verify.audit import audit_log
from pausebutton.verify.export import export_log
from pausebutton.verify.report import (
    VerificationResult,
    compute_series,
    render_html,
    verify_history,
    verify_source,
    write_report,
)
from pausebutton.verify.sources import DirectorySource
from pausebutton.verify.trust import AuditTrust
from tests.verify.scenarios import DAILY, ORIGIN, Town, clean_town, key

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = (
    "summary",
    "checkpoints",
    "findings",
    "accountancy",
    "compute",
    "reporting",
    "parameters",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def witnessed_export(town: Town, folder: Path) -> AuditTrust:
    """Sign a checkpoint, have two witnesses cosign it, export the log; return the trust."""
    cosigners = [CosignatureSigner.from_signing_key(f"w{i}.example", key(f"w{i}")) for i in (1, 2)]
    text = town.log.checkpoint()
    for c in cosigners:
        cosigned = Witness(c, town.signer.verifier(), ORIGIN).cosign(text, [], town.now)
        town.log.add_cosignatures(cosigned, [x.verifier() for x in cosigners])
    export_log(town.log, folder)
    return AuditTrust.from_vkeys([town.signer.vkey()], [c.vkey() for c in cosigners], 2)


@pytest.fixture
def dark_town(tmp_path: Path) -> Town:
    town = clean_town(tmp_path, days=5)
    town.chips["gpu-002"].reporting = False
    town.days(35)
    return town


def test_the_exported_log_audits_and_verifies_into_a_report(
    dark_town: Town, tmp_path: Path
) -> None:
    trust = witnessed_export(dark_town, tmp_path / "export")
    source = DirectorySource(tmp_path / "export")
    audit = audit_log(source, trust)
    assert audit.ok, audit.findings
    size = Checkpoint.parse(parse_signed_note(source.checkpoint().note)[0]).size
    result = verify_source(source, size, audit=audit)
    direct = verify_history(dark_town.history())
    assert result.findings == direct.findings
    assert {f.check for f in result.findings} == {"dark", "accountancy"}
    assert not result.ok
    write_report(result, tmp_path / "r.html", tmp_path / "r.json")
    again = VerificationResult.model_validate_json((tmp_path / "r.json").read_text())
    assert again == result
    dark_town.close()


def test_the_page_is_self_contained_and_the_same_every_time(dark_town: Town) -> None:
    result = verify_history(dark_town.history())
    page = render_html(result)
    assert page == render_html(result)
    for fetches in ('src="http', 'href="http', "<link", "<script", "@import", "url(http"):
        assert fetches not in page
    assert page.count("<svg") == 2
    dark_town.close()


def test_compute_is_counted_per_jurisdiction(tmp_path: Path) -> None:
    town = clean_town(tmp_path, chips=2, days=4)
    (us,) = compute_series(town.history())
    assert us.label == "US"
    assert [v for _, v in us.points] == [2 * DAILY] * 4
    town.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_report_opens_in_chromium_with_every_section(dark_town: Town, tmp_path: Path) -> None:
    result = verify_history(dark_town.history())
    out = tmp_path / "report.html"
    write_report(result, out)
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, *FLAGS, "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = done.stdout
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    for f in result.findings:
        assert f'id="{f.id}"' in dom
    assert "gpu-002" in dom
    assert dom.count("<svg") == 2
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
    dark_town.close()


def test_verify_report_command_writes_the_page_and_exits_2_on_findings(
    dark_town: Town, tmp_path: Path
) -> None:
    """`pausebutton verify report`: audit + detectors + accountancy from an export."""
    from typer.testing import CliRunner

    from pausebutton.cli.verify import app

    witnessed_export(dark_town, tmp_path / "export")
    witnesses = [
        f"--witness={CosignatureSigner.from_signing_key(f'w{i}.example', key(f'w{i}')).vkey()}"
        for i in (1, 2)
    ]
    out, json_out = tmp_path / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--log",
            str(tmp_path / "export"),
            "--out",
            str(out),
            "--json",
            str(json_out),
            "--vkey",
            dark_town.signer.vkey(),
            *witnesses,
            "--quorum",
            "2",
            "--origin",
            ORIGIN,
        ],
    )
    assert result.exit_code == 2, result.output  # the dark chip is a finding
    assert "report written" in result.output
    assert "gpu-002" in out.read_text()
    assert json.loads(json_out.read_text())["format"] == "pausebutton.verification/v1"
