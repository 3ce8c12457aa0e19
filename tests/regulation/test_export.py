"""ECCN 3A090 classification: the formulas, every threshold edge, and bad input."""

from __future__ import annotations

import math

import pytest

from pausebutton.errors import FormatError
from pausebutton.regulation.export import (
    ChipSpec,
    Classification,
    classify,
    classify_metrics,
    computer_eccn,
    performance_density,
    tpp,
)
from pausebutton.regulation.parameters import ExportControlParameters


def below(x: float) -> float:
    """The largest float under `x`."""
    return math.nextafter(x, 0.0)


def test_tpp_matches_the_rules_own_examples() -> None:
    # Technical Note to 3A090 (88 FR 73458): "the 'TPP' threshold of 4800 can be met with
    # 600 tera integer operations (or 2 x 300 'MacTOPS') at 8 bits or 300 tera FLOPS
    # (or 2 x 150 'MacTOPS') at 16 bits".
    assert tpp(ChipSpec("int8", {8: 600})) == 4800
    assert tpp(ChipSpec("fp16", {16: 300})) == 4800
    assert classify(ChipSpec("int8", {8: 600})).paragraphs == ("3A090.a.1",)


def test_h100_worked_example() -> None:
    h100 = ChipSpec("H100 SXM5", {8: 1979, 16: 989.5, 32: 67, 64: 67}, die_area_mm2=814)
    assert tpp(h100) == 15832  # 1979 dense TOPS x 8 bits = 2 x 989.5 MacTOPS x 8
    assert performance_density(h100) == pytest.approx(19.4496, abs=1e-4)
    result = classify(h100)
    assert result.eccn == "3A090.a"
    assert result.paragraphs == ("3A090.a.1", "3A090.a.2")
    assert "1979 dense TOPS x 8 bits" in result.reasons[0]


def test_tpp_is_the_largest_over_precisions_not_the_headline_int8() -> None:
    mi250x = ChipSpec("MI250X-like", {8: 383, 16: 383, 64: 95.7})
    assert tpp(mi250x) == 383 * 16


def test_performance_density_is_none_without_a_die_area() -> None:
    assert performance_density(ChipSpec("x", {8: 100})) is None
    assert performance_density(ChipSpec("x", {8: 100}, die_area_mm2=400)) == 2.0


@pytest.mark.parametrize(
    ("tpp_", "pd", "eccn", "paragraphs"),
    [
        (4800, 0.1, "3A090.a", ("3A090.a.1",)),
        (below(4800), 0.1, "not controlled", ()),
        (1600, 5.92, "3A090.a", ("3A090.a.2",)),
        (below(1600), 5.92, "not controlled", ()),
        (1600, below(5.92), "3A090.b", ("3A090.b.2",)),
        (2400, 1.6, "3A090.b", ("3A090.b.1",)),
        (below(2400), 1.6, "not controlled", ()),
        (2400, below(1.6), "not controlled", ()),
        (1600, 3.2, "3A090.b", ("3A090.b.2",)),
        (1600, below(3.2), "not controlled", ()),
        (below(1600), 3.2, "not controlled", ()),
        (below(4800), below(5.92), "3A090.b", ("3A090.b.1", "3A090.b.2")),
        (4800, 5.92, "3A090.a", ("3A090.a.1", "3A090.a.2")),
        (10**6, 0.001, "3A090.a", ("3A090.a.1",)),
    ],
)
def test_threshold_edges(tpp_: float, pd: float, eccn: str, paragraphs: tuple[str, ...]) -> None:
    result = classify_metrics(tpp_, pd)
    assert result.eccn == eccn
    assert result.paragraphs == paragraphs
    assert result.possible == (eccn,)


@pytest.mark.parametrize(
    ("tops", "area", "eccn", "paragraphs"),
    [
        ({8: 296}, 400, "3A090.a", ("3A090.a.2",)),  # TPP 2368, PD exactly 5.92
        ({8: 300}, 1500, "3A090.b", ("3A090.b.1",)),  # TPP 2400, PD exactly 1.6
        ({8: 200}, 500, "3A090.b", ("3A090.b.2",)),  # TPP 1600, PD exactly 3.2
        ({8: 200}, 501, "not controlled", ()),  # TPP 1600, PD just under 3.2
    ],
)
def test_exact_edges_through_specs(
    tops: dict[int, float], area: float, eccn: str, paragraphs: tuple[str, ...]
) -> None:
    result = classify(ChipSpec("edge", tops, die_area_mm2=area))
    assert (result.eccn, result.paragraphs) == (eccn, paragraphs)


def test_not_datacenter_chip_under_4800_is_outside_3a090_whatever_its_density() -> None:
    # Note 2 to 3A090: the RTX 4090 D case (TPP 4708, PD 7.7).
    result = classify_metrics(below(4800), 100.0, datacenter=False)
    assert result.eccn == "not controlled"
    assert "Note 2 to 3A090" in result.reasons[0]
    assert classify_metrics(below(4800), 100.0, datacenter=True).eccn == "3A090.a"


def test_not_datacenter_chip_at_4800_is_3a090a() -> None:
    result = classify_metrics(4800, 1.0, datacenter=False)
    assert result.eccn == "3A090.a"
    assert "does not exempt" in result.reasons[0]


def test_missing_die_area_that_matters_is_undetermined() -> None:
    result = classify(ChipSpec("H20 without die area", {8: 296}))
    assert result.eccn == "undetermined"
    assert result.performance_density is None
    assert result.possible == ("not controlled", "3A090.b", "3A090.a")
    assert (
        "PD < 3.2: not controlled; 3.2 <= PD < 5.92: 3A090.b; 5.92 <= PD: 3A090.a"
        in (result.reasons[-1])
    )
    assert result.controlled


def test_missing_die_area_between_2400_and_4800_can_only_be_b_or_a() -> None:
    result = classify_metrics(3000, None)
    assert result.eccn == "undetermined"
    assert result.possible == ("not controlled", "3A090.b", "3A090.a")
    assert "1.6 <= PD < 5.92: 3A090.b" in result.reasons[-1]


@pytest.mark.parametrize(
    ("spec", "eccn"),
    [
        (ChipSpec("big", {8: 600}), "3A090.a"),  # TPP >= 4800 decides it
        (ChipSpec("small", {8: 199}), "not controlled"),  # TPP < 1600 decides it
        (ChipSpec("gaming", {8: 588.5}, datacenter=False), "not controlled"),  # Note 2
    ],
)
def test_missing_die_area_that_does_not_matter_is_determined(spec: ChipSpec, eccn: str) -> None:
    result = classify(spec)
    assert result.eccn == eccn
    assert result.possible == (eccn,)


def test_thresholds_come_from_the_policy() -> None:
    a100 = ChipSpec("A100", {8: 624, 16: 312}, die_area_mm2=826)  # TPP 4992, PD 6.04
    assert classify(a100).eccn == "3A090.a"
    stricter_a = ExportControlParameters(tpp_a1=5000, pd_a2=7.0)
    result = classify(a100, stricter_a)
    assert result.eccn == "3A090.b"
    assert "2400 <= TPP 4992 < 5000" in " ".join(result.reasons)
    assert "PD 6.04358 < 7" in result.reasons[-1]


def test_computer_takes_the_strictest_chip_it_contains() -> None:
    def c(eccn: str) -> Classification:
        return Classification(eccn, 1.0, None, ())  # type: ignore[arg-type]

    assert computer_eccn([c("3A090.b"), c("3A090.a")]) == "4A090.a"
    assert computer_eccn([c("3A090.a"), c("undetermined")]) == "4A090.a"
    assert computer_eccn([c("3A090.b"), c("undetermined")]) == "undetermined"
    assert computer_eccn([c("3A090.b"), c("not controlled")]) == "4A090.b"
    assert computer_eccn([]) == "not controlled"


def test_spec_is_immutable_and_copies_its_input() -> None:
    tops = {8: 100.0}
    spec = ChipSpec("x", tops)
    tops[8] = 1e6
    assert spec.dense_tops_by_bits[8] == 100.0
    with pytest.raises(TypeError):
        spec.dense_tops_by_bits[8] = 5.0  # type: ignore[index]
    assert hash(spec) == hash(ChipSpec("x", {8: 100}))
    assert spec == ChipSpec("x", {8: 100})


def test_json_round_trip() -> None:
    spec = ChipSpec("H100", {8: 1979, 64: 67}, die_area_mm2=814, datacenter=True)
    data = spec.to_dict()
    assert data["dense_tops_by_bits"] == {"8": 1979, "64": 67}
    assert ChipSpec.from_dict(data) == spec
    assert ChipSpec.from_dict({"name": "y", "dense_tops_by_bits": {"4": 10}}).datacenter


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": " padded"},
        {"name": "line\nbreak"},
        {"name": 5},
        {"name": "x" * 129},
        {"dense_tops_by_bits": {}},
        {"dense_tops_by_bits": [(8, 10)]},
        {"dense_tops_by_bits": {7: 10}},
        {"dense_tops_by_bits": {128: 10}},
        {"dense_tops_by_bits": {True: 10}},
        {"dense_tops_by_bits": {"8": 10}},
        {"dense_tops_by_bits": {8: 0}},
        {"dense_tops_by_bits": {8: -1}},
        {"dense_tops_by_bits": {8: NAN}},
        {"dense_tops_by_bits": {8: INF}},
        {"dense_tops_by_bits": {8: "10"}},
        {"dense_tops_by_bits": {8: True}},
        {"die_area_mm2": 0},
        {"die_area_mm2": -814},
        {"die_area_mm2": NAN},
        {"die_area_mm2": "814"},
        {"die_area_mm2": True},
        {"datacenter": "yes"},
        {"datacenter": 1},
    ],
)
def test_malformed_spec_is_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "chip", "dense_tops_by_bits": {8: 100}}
    fields.update(kwargs)
    with pytest.raises(FormatError):
        ChipSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"name": "x"},
        {"dense_tops_by_bits": {"8": 1}},
        {"name": "x", "dense_tops_by_bits": {"8": 1}, "sparse": True},
        {"name": "x", "dense_tops_by_bits": {"08": 1}},
        {"name": "x", "dense_tops_by_bits": {"eight": 1}},
        {"name": "x", "dense_tops_by_bits": [1]},
        {"name": "x", "dense_tops_by_bits": {"8": 1}, "die_area_mm2": "big"},
    ],
)
def test_malformed_json_spec_is_refused(data: object) -> None:
    with pytest.raises(FormatError):
        ChipSpec.from_dict(data)


@pytest.mark.parametrize(("tpp_", "pd"), [(0, 1.0), (-1, 1.0), (NAN, None), (100, 0), (100, INF)])
def test_malformed_metrics_are_refused(tpp_: float, pd: float | None) -> None:
    with pytest.raises(FormatError):
        classify_metrics(tpp_, pd)
