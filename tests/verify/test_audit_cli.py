"""`pausebutton verify audit`: one command, its exit status, its JSON and its proofs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from pausebutton.cli.verify import app
from pausebutton.governance import draft
from pausebutton.verify.equivocation import parse_equivocation_proof
from pausebutton.verify.findings import AuditResult
from tests.governance.ceremony import ceremony, collect
from tests.verify.audit_world import LogWorld

runner = CliRunner()


def _keys(world: LogWorld) -> list[str]:
    keys = ["--vkey", world.signer.vkey()]
    for c in world.cosigners:
        keys += ["--witness", c.vkey()]
    return keys


def test_clean_audit_exits_zero_and_writes_json(tmp_path: Path) -> None:
    world = LogWorld(tmp_path / "log")
    try:
        world.grow(300)
        world.grow(10)
        export = world.export()
    finally:
        world.close()
    out = tmp_path / "audit.json"
    result = runner.invoke(app, ["audit", str(export), *_keys(world), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "audits clean" in result.output
    audit = AuditResult.model_validate_json(out.read_text())
    assert audit.ok
    assert [c.size for c in audit.checkpoints] == [300, 310]


def test_equivocating_log_exits_two_with_a_portable_proof(tmp_path: Path) -> None:
    world = LogWorld(tmp_path / "log")
    try:
        world.grow(100)
        world.grow(100)
        export = world.export()
        fork = tmp_path / "seen-by-a-witness"
        fork.write_text(world.forged(100, hashlib.sha256(b"other").digest()))
    finally:
        world.close()
    proofs = tmp_path / "proofs"
    result = runner.invoke(
        app,
        ["audit", str(export), *_keys(world), "--checkpoint", str(fork), "--proofs", str(proofs)],
    )
    assert result.exit_code == 2, result.output
    assert "critical fork/100" in result.output
    [proof_file] = sorted(proofs.iterdir())
    assert parse_equivocation_proof(proof_file.read_bytes()).kind == "fork"
    check = runner.invoke(app, ["equivocation", str(proof_file), "--vkey", world.signer.vkey()])
    assert check.exit_code == 0, check.output


def test_trust_from_a_governance_root_and_policy(tmp_path: Path) -> None:
    c = ceremony(label="audit/")
    root_file, policy_file = tmp_path / "root.json", tmp_path / "policy.json"
    root_file.write_bytes(collect(draft(c.make_root()), c.root_signers()).to_bytes())
    policy_file.write_bytes(c.signed_policy(c.policy(witness_threshold=3)).to_bytes())
    world = LogWorld(tmp_path / "log", keys=(c.log[0], list(c.witness)))
    try:
        world.grow(50)
        world.grow(50, cosigners=[0, 1])
        export = world.export()
    finally:
        world.close()
    args = ["audit", str(export), "--root", str(root_file), "--origin", world.log.origin]
    by_root = runner.invoke(app, args)  # the root's witness threshold: 2
    assert by_root.exit_code == 0, by_root.output
    by_policy = runner.invoke(app, [*args, "--policy", str(policy_file)])
    assert by_policy.exit_code == 2, by_policy.output
    assert "witness-quorum/100" in by_policy.output
    mixed = runner.invoke(app, [*args, "--vkey", world.signer.vkey()])
    assert mixed.exit_code == 1


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(tmp_path / "nowhere"), "--vkey", "x+1+AA=="])
    assert result.exit_code == 1
    assert "error" in result.output
    assert len(result.output.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    world = LogWorld(tmp_path / "log")
    world.close()
    empty = runner.invoke(app, ["audit", str(tmp_path / "empty"), *_keys(world)])
    assert empty.exit_code == 2
    assert "checkpoint-missing/head" in empty.output
