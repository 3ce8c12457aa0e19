"""Invariants of the classifier and the caps, checked on random inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pausebutton.errors import ValidationError
from pausebutton.regulation.caps import ProductionTally, check_production, record_production
from pausebutton.regulation.export import (
    BIT_LENGTHS,
    STRICTNESS,
    ChipSpec,
    classify,
    classify_metrics,
    tpp,
)
from pausebutton.regulation.parameters import ExportControlParameters, ProductionCap

SETTINGS = settings(max_examples=150, deadline=None)

tops_values = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
tpp_values = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)
pd_values = st.floats(min_value=1e-4, max_value=1e3, allow_nan=False, allow_infinity=False)
tops_maps = st.dictionaries(st.sampled_from(sorted(BIT_LENGTHS)), tops_values, min_size=1)


@st.composite
def parameters(draw: st.DrawFn) -> ExportControlParameters:
    """Random threshold sets that keep the rule's order."""
    tpp_a2 = draw(st.integers(1, 5000))
    tpp_b2 = draw(st.integers(tpp_a2, tpp_a2 + 5000))
    tpp_b1 = draw(st.integers(tpp_b2, tpp_b2 + 5000))
    tpp_a1 = draw(st.integers(tpp_b1 + 1, tpp_b1 + 5000))
    pd_a2 = draw(st.floats(0.5, 20))
    pd_b1 = draw(st.floats(0.01, pd_a2, exclude_max=True))
    pd_b2 = draw(st.floats(0.01, pd_a2, exclude_max=True))
    return ExportControlParameters(
        tpp_a1=tpp_a1,
        tpp_a2=tpp_a2,
        pd_a2=pd_a2,
        tpp_b1=tpp_b1,
        pd_b1=pd_b1,
        tpp_b2=tpp_b2,
        pd_b2=pd_b2,
        non_datacenter_tpp=draw(st.integers(1, 10000)),
    )


policies = st.one_of(st.just(ExportControlParameters()), parameters())


@SETTINGS
@given(tops_maps, st.sampled_from(sorted(BIT_LENGTHS)), st.floats(1, 100))
def test_tpp_is_monotone_in_every_tops_value(
    tops: dict[int, float], bits: int, factor: float
) -> None:
    more = dict(tops)
    more[bits] = tops[bits] * factor if bits in tops else 1.0
    assert tpp(ChipSpec("more", more)) >= tpp(ChipSpec("base", tops))


@SETTINGS
@given(tops_maps)
def test_tpp_is_the_largest_tops_times_bits(tops: dict[int, float]) -> None:
    value = tpp(ChipSpec("x", tops))
    assert value == max(t * b for b, t in tops.items())


@SETTINGS
@given(tpp_values, tpp_values, pd_values, st.booleans(), policies)
def test_classification_never_gets_less_strict_as_tpp_grows_at_fixed_pd(
    t1: float, t2: float, pd: float, datacenter: bool, params: ExportControlParameters
) -> None:
    low, high = sorted((t1, t2))
    before = classify_metrics(low, pd, datacenter=datacenter, params=params).eccn
    after = classify_metrics(high, pd, datacenter=datacenter, params=params).eccn
    assert STRICTNESS[after] >= STRICTNESS[before]


@SETTINGS
@given(tpp_values, pd_values, pd_values, st.booleans(), policies)
def test_classification_never_gets_less_strict_as_pd_grows_at_fixed_tpp(
    t: float, pd1: float, pd2: float, datacenter: bool, params: ExportControlParameters
) -> None:
    low, high = sorted((pd1, pd2))
    before = classify_metrics(t, low, datacenter=datacenter, params=params).eccn
    after = classify_metrics(t, high, datacenter=datacenter, params=params).eccn
    assert STRICTNESS[after] >= STRICTNESS[before]


@SETTINGS
@given(tpp_values, pd_values, st.booleans(), policies)
def test_an_unknown_die_area_never_hides_the_true_answer(
    t: float, pd: float, datacenter: bool, params: ExportControlParameters
) -> None:
    known = classify_metrics(t, pd, datacenter=datacenter, params=params)
    unknown = classify_metrics(t, None, datacenter=datacenter, params=params)
    assert known.eccn in unknown.possible
    assert (unknown.eccn == "undetermined") == (len(unknown.possible) > 1)
    if unknown.eccn != "undetermined":
        assert unknown.eccn == known.eccn


@SETTINGS
@given(tops_maps, st.one_of(st.none(), tops_values), st.booleans())
def test_spec_json_round_trip(tops: dict[int, float], area: float | None, datacenter: bool) -> None:
    spec = ChipSpec("chip", tops, die_area_mm2=area, datacenter=datacenter)
    assert ChipSpec.from_dict(spec.to_dict()) == spec
    assert classify(ChipSpec.from_dict(spec.to_dict())) == classify(spec)


chips = st.lists(st.tuples(st.integers(0, 40), st.floats(1, 20000, allow_nan=False)), max_size=30)


@SETTINGS
@given(chips, st.integers(0, 8), st.integers(0, 80000), st.integers(1, 10))
def test_running_tally_and_full_history_agree(
    events: list[tuple[int, float]], max_chips: int, max_tpp: int, period_s: int
) -> None:
    cap = ProductionCap(manufacturer="m", period_s=period_s, max_chips=max_chips, max_tpp=max_tpp)
    accepted: list[tuple[int, float]] = []
    tally: ProductionTally | None = None
    for time, chip_tpp in sorted(events):
        try:
            check_production(cap, accepted, time, chip_tpp)
            by_history = True
        except ValidationError:
            by_history = False
        try:
            tally = record_production(cap, tally, time, chip_tpp)
            by_tally = True
        except ValidationError:
            by_tally = False
        assert by_history == by_tally
        if by_history:
            accepted.append((time, chip_tpp))
    if tally is not None:
        assert tally.chips <= max_chips
        assert tally.tpp <= max_tpp
