"""The policy's export-control and production-cap parameters: published defaults, strictness."""

from __future__ import annotations

import pydantic
import pytest

from pausebutton.errors import ValidationError
from pausebutton.regulation.parameters import (
    DEFAULT_EXPORT_CONTROL,
    ExportControlParameters,
    ProductionCap,
    ProductionCaps,
)


def test_defaults_are_the_published_values() -> None:
    # ECCN 3A090 as revised by 88 FR 73458 (25 October 2023).
    p = DEFAULT_EXPORT_CONTROL
    assert (p.tpp_a1, p.tpp_a2, p.pd_a2) == (4800, 1600, 5.92)
    assert (p.tpp_b1, p.pd_b1, p.tpp_b2, p.pd_b2) == (2400, 1.6, 1600, 3.2)
    assert p.non_datacenter_tpp == 4800
    assert p.licence_groups == ("D:1", "D:4", "D:5")
    assert p.licence_exempt_groups == ("A:5", "A:6")
    assert (p.headquarters_groups, p.headquarters_countries) == (("D:5",), ("MO",))
    assert p.embargo_groups == ("E:1", "E:2")


def test_every_field_documents_its_default_and_source() -> None:
    for name, field in ExportControlParameters.model_fields.items():
        assert "Default" in (field.description or ""), name
    for name in ("period_s", "max_chips", "max_tpp"):
        assert ProductionCap.model_fields[name].description


def test_parameters_are_frozen_and_refuse_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        DEFAULT_EXPORT_CONTROL.tpp_a1 = 1  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        ExportControlParameters(tpp_a3=1)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        ExportControlParameters(tpp_a1="4800")  # type: ignore[arg-type]


def test_json_round_trip_and_lists_from_json() -> None:
    text = DEFAULT_EXPORT_CONTROL.model_dump_json()
    assert ExportControlParameters.model_validate_json(text) == DEFAULT_EXPORT_CONTROL
    custom = ExportControlParameters.model_validate_json('{"pd_a2": 6, "licence_groups": ["D:5"]}')
    assert (custom.pd_a2, custom.licence_groups) == (6.0, ("D:5",))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tpp_a2": 5000},
        {"tpp_b1": 4800},
        {"tpp_b2": 1000},
        {"pd_b1": 5.92},
        {"pd_b2": 6.0},
    ],
)
def test_misordered_thresholds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ExportControlParameters(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tpp_a1": 0},
        {"pd_a2": float("nan")},
        {"pd_b1": -1.0},
        {"licence_groups": ("D:1", "D:1")},
        {"licence_groups": ("d:1",)},
        {"headquarters_countries": ("Macau",)},
    ],
)
def test_malformed_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        ExportControlParameters(**kwargs)  # type: ignore[arg-type]


def test_production_cap_needs_its_numbers() -> None:
    cap = ProductionCap(manufacturer="acme", max_chips=1000, max_tpp=16_000_000)
    assert cap.period_s == 365 * 86400
    with pytest.raises(pydantic.ValidationError):
        ProductionCap(manufacturer="acme", max_chips=1000)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        ProductionCap(manufacturer="a cme", max_chips=1, max_tpp=1)
    with pytest.raises(pydantic.ValidationError):
        ProductionCap(manufacturer="acme", max_chips=-1, max_tpp=1)
    with pytest.raises(pydantic.ValidationError):
        ProductionCap(manufacturer="acme", period_s=0, max_chips=1, max_tpp=1)


def test_production_caps_map_manufacturers_to_their_own_caps() -> None:
    cap = ProductionCap(manufacturer="acme", max_chips=1, max_tpp=1)
    caps = ProductionCaps({"acme": cap})
    assert caps.cap_for("acme") == cap
    assert caps.cap_for("other") is None
    assert ProductionCaps.model_validate_json(caps.model_dump_json()) == caps
    with pytest.raises(pydantic.ValidationError, match="for manufacturer 'acme'"):
        ProductionCaps({"other": cap})
