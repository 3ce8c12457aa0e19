"""The "Log audit" examples in docs/verification.md are real output of the code.

Run ``.venv/bin/python -m tests.verify.test_audit_docs`` to rewrite them; the tests fail
when the page and the code drift apart. Blocks are marked ``<!-- audit-example:NAME -->``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from pausebutton.log.note import Verifier
from pausebutton.verify.equivocation import (
    check_equivocation_proof,
    equivocation_proof_bytes,
    parse_equivocation_proof,
)
from pausebutton.verify.layout import decode_bundle
from tests.verify.audit_world import LogWorld

DOCS = Path(__file__).resolve().parents[2] / "docs" / "verification.md"
BLOCK = re.compile(
    r"(<!-- audit-example:(?P<name>[a-z-]+) -->\n```(?:json|text)\n)(.*?)(```)", re.S
)


def _listing(root: Path) -> str:
    lines = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            lines.append(f"{path.stat().st_size:>6}  {path.relative_to(root)}")
    return "\n".join(lines) + "\n"


def examples() -> dict[str, str]:
    """Export a 600-entry log checkpointed at 100, 300 and 600; show it forked; audit."""
    with tempfile.TemporaryDirectory() as tmp:
        world = LogWorld(Path(tmp) / "log")
        rival = LogWorld(Path(tmp) / "rival", salt="rewritten")  # same key, another history
        try:
            for count in (100, 200, 300):
                world.grow(count)
            export = world.export()
            rival.grow(150)
            rewritten = rival.log.cosigned_checkpoint(150)
            fork = world.forged(300, hashlib.sha256(b"another history").digest())
            result = world.audit(export, known=[rewritten, fork])
            checkpoint = (export / "checkpoint").read_text()
            bundle = (export / "tile/entries/002.p/88").read_bytes()
            layout = _listing(export)
        finally:
            world.close()
            rival.close()
    dump, at = [], 0
    for item in decode_bundle(bundle)[:2]:
        dump.append(f"{bundle[at : at + 2].hex()}  length {len(item)}")
        dump.append(f"{bundle[at + 2 : at + 18].hex()}  {item[:16].decode()!r}...")
        at += 2 + len(item)
    findings = [f.model_dump(mode="json") for f in result.findings]
    proof = next(p for p in result.equivocations if p.kind == "non_extension")
    pretty = json.loads(equivocation_proof_bytes(proof))
    return {
        "vkey": world.signer.vkey() + "\n",
        "layout": layout,
        "checkpoint": checkpoint,
        "bundle": "\n".join(dump) + "\n",
        "findings": json.dumps(findings, indent=2, ensure_ascii=False) + "\n",
        "proof": json.dumps(pretty, indent=2, ensure_ascii=False) + "\n",
    }


def blocks(page: str) -> dict[str, str]:
    """The marked blocks of the page."""
    return {m.group("name"): m.group(3) for m in BLOCK.finditer(page)}


def rewrite() -> None:
    """Write the current examples into the page."""
    made = examples()
    page = DOCS.read_text(encoding="utf-8")
    page = BLOCK.sub(lambda m: m.group(1) + made[m.group("name")] + m.group(4), page)
    DOCS.write_text(page, encoding="utf-8")


def test_examples_in_the_page_are_what_the_code_makes() -> None:
    found, made = blocks(DOCS.read_text(encoding="utf-8")), examples()
    assert sorted(found) == sorted(made)
    for name, text in made.items():
        assert found[name] == text, f"{name}: run python -m tests.verify.test_audit_docs"


def test_documented_proof_checks_with_the_documented_key_alone() -> None:
    found = blocks(DOCS.read_text(encoding="utf-8"))
    verifier = Verifier.from_vkey(found["vkey"].strip())
    check_equivocation_proof(parse_equivocation_proof(found["proof"]), verifier)


if __name__ == "__main__":
    rewrite()
