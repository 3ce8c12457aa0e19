"""Country groups and the licence requirement for 3A090/4A090 items."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any

import pytest

from pausebutton.errors import FormatError
from pausebutton.regulation import jurisdictions
from pausebutton.regulation._internal import load_data
from pausebutton.regulation.jurisdictions import groups_of, licence_required, load_jurisdictions
from pausebutton.regulation.parameters import ExportControlParameters


@pytest.mark.parametrize("eccn", ["3A090.a", "3A090.b", "4A090.a", "4A090.b"])
@pytest.mark.parametrize("destination", ["CN", "RU", "VE", "MO", "SA", "VN"])
def test_d_group_destination_needs_a_licence(eccn: str, destination: str) -> None:
    decision = licence_required(eccn, destination)
    assert decision.required
    assert "15 CFR 742.6(a)(6)(iii)" in decision.reason


@pytest.mark.parametrize("destination", ["DE", "JP", "GB", "US", "NL", "KR"])
def test_a1_destination_needs_no_licence(destination: str) -> None:
    assert "A:1" in groups_of(destination)
    decision = licence_required("3A090.a", destination)
    assert not decision.required
    assert "none of D:1, D:4, D:5" in decision.reason


def test_d_group_member_also_in_a6_is_exempt() -> None:
    decision = licence_required("3A090.a", "IL")  # D:4 and A:6
    assert not decision.required
    assert "but also in A:6" in decision.reason


def test_hong_kong_is_treated_as_china() -> None:
    decision = licence_required("3A090.b", "HK")
    assert decision.required
    assert "HK (treated as CN)" in decision.reason
    assert groups_of("HK") == groups_of("CN")


@pytest.mark.parametrize("destination", ["KP", "IR", "SY", "CU"])
def test_embargoed_destination_needs_a_licence_even_for_uncontrolled_chips(
    destination: str,
) -> None:
    decision = licence_required("not controlled", destination)
    assert decision.required
    assert "embargo" in decision.reason


def test_uncontrolled_chip_to_china_needs_no_advanced_computing_licence() -> None:
    assert not licence_required("not controlled", "CN").required


def test_undetermined_chip_is_treated_as_3a090a() -> None:
    decision = licence_required("undetermined", "CN")
    assert decision.required
    assert "treated as 3A090.a" in decision.reason


@pytest.mark.parametrize("headquarters", ["CN", "MO", "RU", "HK"])
def test_consignee_headquartered_in_d5_or_macau_needs_a_licence_anywhere(
    headquarters: str,
) -> None:
    decision = licence_required("3A090.a", "DE", headquarters=headquarters)
    assert decision.required
    assert "headquartered" in decision.reason


def test_consignee_headquartered_elsewhere_follows_the_destination() -> None:
    assert not licence_required("3A090.a", "DE", headquarters="US").required
    assert licence_required("3A090.a", "CN", headquarters="US").required


@pytest.mark.parametrize("code", ["XX", "cn", "CHN", "", "C", 86, None, "ZZ"])
def test_unknown_country_code_is_refused(code: object) -> None:
    with pytest.raises(FormatError):
        licence_required("3A090.a", code)  # type: ignore[arg-type]
    if code is not None:  # None is "headquarters unknown"
        with pytest.raises(FormatError):
            licence_required("3A090.a", "DE", headquarters=code)  # type: ignore[arg-type]


@pytest.mark.parametrize("eccn", ["3A090.c", "3A090", "EAR99", "", "controlled"])
def test_unknown_classification_is_refused(eccn: str) -> None:
    with pytest.raises(FormatError):
        licence_required(eccn, "CN")


def test_policy_naming_an_unknown_group_is_refused() -> None:
    params = ExportControlParameters(licence_groups=("D:9",))
    with pytest.raises(FormatError, match="D:9"):
        licence_required("3A090.a", "CN", params)


def test_rescinded_ai_diffusion_tiers_can_be_simulated_but_are_not_the_default() -> None:
    diffusion = ExportControlParameters(
        licence_groups=("AI-DIFFUSION:TIER-2", "AI-DIFFUSION:TIER-3"),
        licence_exempt_groups=(),
    )
    assert licence_required("3A090.a", "IN", diffusion).required  # Tier 2
    assert not licence_required("3A090.a", "IN").required  # A:5, in force
    assert not licence_required("3A090.a", "FR", diffusion).required  # Tier 1
    assert not licence_required("3A090.a", "US", diffusion).required


def test_every_group_has_a_source_and_a_status() -> None:
    table = load_jurisdictions()
    datetime.date.fromisoformat(table.as_of)
    for group in table.groups.values():
        assert group.source
        assert group.status in {"in force", "rescinded"}
        assert group.members


def test_ai_diffusion_tiers_are_marked_rescinded_and_cover_the_world() -> None:
    table = load_jurisdictions()
    tiers = [table.group(f"AI-DIFFUSION:TIER-{n}") for n in (1, 2, 3)]
    for tier in tiers:
        assert tier.status == "rescinded"
        assert "RESCINDED" in tier.note
        assert "90 FR 4544" in tier.source
    assert len(tiers[0].members) == 18
    union = tiers[0].members | tiers[1].members | tiers[2].members
    assert sum(len(t.members) for t in tiers) == len(union)
    assert union == table.countries - {"US"} - set(table.aliases)


def test_groups_in_force_match_the_2026_text() -> None:
    # Spot checks against 15 CFR part 740 supplement no. 1 (eCFR, 23 July 2026).
    assert {"D:1", "D:4", "D:5"} <= set(groups_of("CN"))
    assert "D:5" not in groups_of("KH")  # Cambodia left D:5 on 3 February 2026
    assert "D:1" in groups_of("KH")
    assert "D:5" not in groups_of("MO")  # why the rule names Macau beside D:5
    assert "A:6" in groups_of("TW")


def _shipped() -> dict[str, Any]:
    return copy.deepcopy(load_data("jurisdictions.json"))


def _drop_source(d: dict[str, Any]) -> None:
    del d["groups"]["D:5"]["source"]


def _unknown_member(d: dict[str, Any]) -> None:
    d["groups"]["D:5"]["members"].append("XX")


def _repeated_member(d: dict[str, Any]) -> None:
    d["groups"]["D:5"]["members"].append("CN")


def _bad_status(d: dict[str, Any]) -> None:
    d["groups"]["D:5"]["status"] = "maybe"


def _alias_to_nowhere(d: dict[str, Any]) -> None:
    d["aliases"]["HK"]["same_as"] = "XX"


def _alias_listed(d: dict[str, Any]) -> None:
    d["groups"]["D:5"]["members"].append("HK")


def _bad_complement(d: dict[str, Any]) -> None:
    d["groups"]["AI-DIFFUSION:TIER-2"]["complement_of"] = ["D:9"]


def _wrong_format(d: dict[str, Any]) -> None:
    d["format"] = "something/v2"


@pytest.mark.parametrize(
    "damage",
    [
        _drop_source,
        _unknown_member,
        _repeated_member,
        _bad_status,
        _alias_to_nowhere,
        _alias_listed,
        _bad_complement,
        _wrong_format,
    ],
)
def test_damaged_jurisdiction_data_is_refused(damage: Callable[[dict[str, Any]], None]) -> None:
    data = _shipped()
    damage(data)
    with pytest.raises(FormatError):
        jurisdictions._parse(data)
