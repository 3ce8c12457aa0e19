"""The examples in docs/regulation.md agree with the code and the shipped data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pausebutton.regulation import ChipSpec, classify, load_jurisdictions
from pausebutton.regulation.parameters import DEFAULT_EXPORT_CONTROL

DOC = (Path(__file__).parents[2] / "docs" / "regulation.md").read_text(encoding="utf-8")
JSON_BLOCKS = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)


def test_chip_spec_example_classifies_as_the_worked_example_says() -> None:
    spec = ChipSpec.from_dict(json.loads(JSON_BLOCKS[0]))
    result = classify(spec)
    assert (result.eccn, result.tpp) == ("3A090.a", 15832)
    assert f"{result.performance_density:.2f}" == "19.45"


def test_jurisdiction_example_matches_the_data_file() -> None:
    example = json.loads("{" + JSON_BLOCKS[1] + "}")
    group = load_jurisdictions().group("D:5")
    assert set(example["D:5"]["members"]) == group.members
    assert example["D:5"]["source"] == group.source


def test_threshold_table_states_the_defaults() -> None:
    p = DEFAULT_EXPORT_CONTROL
    assert f"| `tpp_a1` | {p.tpp_a1} |" in DOC
    assert f"| `tpp_a2`, `pd_a2` | {p.tpp_a2}, {p.pd_a2} |" in DOC
    assert f"| `tpp_b1`, `pd_b1` | {p.tpp_b1}, {p.pd_b1} |" in DOC
    assert f"| `tpp_b2`, `pd_b2` | {p.tpp_b2}, {p.pd_b2} |" in DOC
