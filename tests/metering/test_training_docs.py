"""docs/metering.md's governed-loop example is real output; the benchmark script runs."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "metering.md"


def _block(marker: str) -> str:
    """The code block after ``<!-- marker -->``, without its final newline."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, marker
    return found.group(1)


def test_the_governed_loop_example_prints_what_the_page_says() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_block("governed-loop-example"), str(DOC), "exec"), {"__name__": "example"})
    assert out.getvalue().rstrip("\n") == _block("governed-loop-example-output")


def test_the_benchmark_runs_and_charges_the_analytic_count(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_metering", ROOT / "bench" / "metering.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "figures.json"
    argv = ["--rounds", "1", "--steps", "2", "--d", "16", "--seq", "8", "--batch", "2"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert bench.main([*argv, "--repeat", "2", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["count"]["charged"] == figures["count"]["analytic"]
    assert figures["loop"]["charged_per_step"] == figures["count"]["analytic"]
    assert figures["count"]["flop_counter_mode"] < figures["count"]["analytic"]
    assert set(figures["loop"]["steps_per_s"]) == {
        "ungoverned",
        "ours_memory_element",
        "ours_file_element",
        "flop_counter_mode_every_step",
    }
