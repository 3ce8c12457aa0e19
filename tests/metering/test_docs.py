"""docs/metering.md: its example is real output and its formula table names every kernel."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from pausebutton.metering.torch import FORMULAS, REFUSED, op_name

DOC = Path(__file__).parents[2] / "docs" / "metering.md"


def _block(marker: str) -> str:
    """The code block after ``<!-- marker -->``, without its final newline."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, marker
    return found.group(1)


def test_the_example_output_is_what_the_example_prints() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_block("metering-example"), str(DOC), "exec"), {"__name__": "example"})
    assert out.getvalue().rstrip("\n") == _block("metering-example-output")


def test_every_registered_and_refused_kernel_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = {op_name(p).removeprefix("aten.") for p in FORMULAS}
    names |= {name.removeprefix("aten.") for name in REFUSED}
    assert sorted(n for n in names if f"`{n}`" not in text) == []
