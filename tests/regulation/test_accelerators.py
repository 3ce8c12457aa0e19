"""The shipped accelerator table: the classifier reproduces every published classification."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from pausebutton.errors import FormatError
from pausebutton.regulation import accelerators
from pausebutton.regulation._internal import load_data
from pausebutton.regulation.accelerators import (
    accelerator_records,
    load_accelerators,
    record_by_name,
    spec_by_name,
)
from pausebutton.regulation.export import classify

NVIDIA_8K_2023_10_17 = (
    "NVIDIA Form 8-K, 17 Oct 2023, https://www.sec.gov/Archives/edgar/data/1045810/"
    "000104581023000217/nvda-20231017.htm"
)
NVIDIA_8K_2023_10_23 = "NVIDIA Form 8-K for the event of 23 Oct 2023 (TPP >= 4800, datacentre)"
FR_2026_01_15 = "91 FR 1684 (15 Jan 2026), names the H200 and MI325X"
NVIDIA_8K_2025_04_09 = (
    "NVIDIA Form 8-K, 15 Apr 2025, https://www.sec.gov/Archives/edgar/data/1045810/"
    "000104581025000082/nvda-20250409.htm (licence by letter, not by 3A090)"
)
FUDZILLA_2023_12 = (
    "Fudzilla, Dec 2023, https://fudzilla.com/news/graphics/"
    "58175-nvidia-slashes-gaming-card-power-to-dodge-us-ban"
)

# name, published classification, source of the classification.
PUBLISHED = [
    ("NVIDIA A100 SXM4 80GB", "3A090.a", f"{NVIDIA_8K_2023_10_17}; {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA A800 SXM4 80GB", "3A090.a", f"{NVIDIA_8K_2023_10_17}; {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA H100 SXM5 80GB", "3A090.a", f"{NVIDIA_8K_2023_10_17}; {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA H800 SXM5 80GB", "3A090.a", f"{NVIDIA_8K_2023_10_17}; {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA L40S", "3A090.a", f"{NVIDIA_8K_2023_10_17}; {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA L40", "3A090.b", f"{NVIDIA_8K_2023_10_17}, absent from {NVIDIA_8K_2023_10_23}"),
    ("NVIDIA GeForce RTX 4090", "3A090.a", NVIDIA_8K_2023_10_17),
    ("NVIDIA H200 SXM 141GB", "3A090.a", FR_2026_01_15),
    ("AMD Instinct MI325X", "3A090.a", FR_2026_01_15),
    ("NVIDIA H20", "not controlled", NVIDIA_8K_2025_04_09),
    ("NVIDIA GeForce RTX 4090 D", "not controlled", f"{FUDZILLA_2023_12}, quoting NVIDIA"),
    ("NVIDIA L4", "3A090.a", f"{FUDZILLA_2023_12} (press analysis: PD limit)"),
]


@pytest.mark.parametrize(("name", "eccn", "source"), PUBLISHED, ids=[row[0] for row in PUBLISHED])
def test_classifier_reproduces_published_classification(name: str, eccn: str, source: str) -> None:
    record = record_by_name(name)
    assert classify(record.spec).eccn == eccn, source
    assert record.published is not None
    assert record.published.eccn == eccn
    assert record.published.source


def test_every_published_classification_in_the_table_is_tested() -> None:
    published = {r.spec.name for r in accelerator_records() if r.published is not None}
    assert published == {row[0] for row in PUBLISHED}


@pytest.mark.parametrize(
    ("name", "tpp", "pd"),
    [
        ("H100", 15832, 19.45),
        ("A100", 4992, 6.04),
        ("H20", 2368, 2.91),
        ("L40", 2896.8, 4.76),
        ("L4", 1940, 6.58),
        ("RTX 4090", 5284.8, 8.68),
        ("RTX 4090 D", 4708, 7.74),
        ("MI300X", 20919.2, None),
        ("B200", 36000, None),
    ],
)
def test_table_numbers(name: str, tpp: float, pd: float | None) -> None:
    result = classify(spec_by_name(name))
    assert result.tpp == pytest.approx(tpp)
    if pd is None:
        assert result.performance_density is None
    else:
        assert result.performance_density == pytest.approx(pd, abs=0.005)


def test_every_row_cites_its_sources() -> None:
    records = accelerator_records()
    assert len(records) >= 15
    for record in records:
        assert record.sources["performance"]
        assert "die_area" in record.sources
        assert set(record.precisions) == set(record.spec.dense_tops_by_bits)


def test_h20_without_its_die_area_would_be_undetermined() -> None:
    h20 = dataclasses.replace(spec_by_name("H20"), die_area_mm2=None)
    assert classify(h20).eccn == "undetermined"


def test_chips_without_a_published_die_area_are_still_determined() -> None:
    for record in accelerator_records():
        if record.spec.die_area_mm2 is None:
            assert classify(record.spec).eccn == "3A090.a", record.spec.name


def test_lookup_by_alias_ignores_case() -> None:
    assert spec_by_name("h100") is spec_by_name("NVIDIA H100 SXM5 80GB")
    assert spec_by_name(" rtx 4090d ").name == "NVIDIA GeForce RTX 4090 D"


def test_unknown_accelerator_is_refused() -> None:
    with pytest.raises(FormatError, match="no accelerator named 'H900'"):
        spec_by_name("H900")


def test_loaded_table_cannot_be_changed_through_the_result() -> None:
    table = load_accelerators()
    table.clear()
    assert "NVIDIA H100 SXM5 80GB" in load_accelerators()


def _h100_row() -> dict[str, Any]:
    rows = load_data("accelerators.json")["accelerators"]
    return copy.deepcopy(next(row for row in rows if row["name"] == "NVIDIA H100 SXM5 80GB"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("sources", "performance"), ""),
        (("sources", "die_area"), None),
        (("precisions", "4"), "INT4"),
        (("published", "eccn"), "3A090.z"),
        (("published", "source"), ""),
        (("dense_tops_by_bits", "8"), -1),
        (("vendor",), ""),
    ],
)
def test_damaged_accelerator_row_is_refused(path: tuple[str, ...], value: object) -> None:
    row = _h100_row()
    target = row
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(FormatError):
        accelerators._record(row)
