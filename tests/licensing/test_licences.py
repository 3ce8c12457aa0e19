"""The licence formats: strict, canonical, FLOP counts as decimal strings, stable ids."""

from __future__ import annotations

import pytest

from pausebutton.crypto import Envelope
from pausebutton.errors import FormatError, ValidationError
from pausebutton.licensing import (
    DeviceLicence,
    licence_id,
    parse_device_licence,
    parse_run_licence,
    verify_run_licence,
)
from pausebutton.licensing.licences import describe_device, describe_run
from tests.device.regime import Regime
from tests.governance.ceremony import NOW


@pytest.fixture
def regime() -> Regime:
    return Regime()


def test_flop_counts_are_decimal_strings(regime: Regime) -> None:
    governor = regime.device()
    run = regime.run([governor], flop=10**27)
    assert run.payload["flop_budget"] == "1" + "0" * 27
    licence = regime.forge(governor, flop_budget=2**70, counter_base=2**60)
    assert licence.payload["flop_budget"] == str(2**70)
    assert parse_device_licence(licence).ceiling == 2**70 + 2**60


def test_a_licence_states_every_field_canonically(regime: Regime) -> None:
    governor = regime.device()
    licence = regime.forge(governor)
    missing = dict(licence.payload)
    del missing["device_nonce"]
    with pytest.raises(FormatError, match="device_nonce: Field required"):
        parse_device_licence(Envelope(payload_type=licence.payload_type, payload=missing))
    as_number = dict(licence.payload, flop_budget=1000)
    with pytest.raises(FormatError, match="flop_budget: not in canonical form"):
        parse_device_licence(Envelope(payload_type=licence.payload_type, payload=as_number))
    padded = dict(licence.payload, flop_budget="01000")
    with pytest.raises(FormatError, match="leading zeros"):
        parse_device_licence(Envelope(payload_type=licence.payload_type, payload=padded))
    with pytest.raises(FormatError, match=r"expected a pausebutton\.run-licence/v1"):
        parse_run_licence(licence)


def test_licence_id_ignores_signatures(regime: Regime) -> None:
    governor = regime.device()
    one = regime.forge(governor)
    two = one.with_signature(regime.licensing_keys[1])
    assert (
        licence_id(one) == licence_id(two) == licence_id(one.model_copy(update={"signatures": ()}))
    )
    assert licence_id(regime.forge(governor, sequence=5)) != licence_id(one)


def test_windows_and_pods_are_consistent(regime: Regime) -> None:
    governor = regime.device()
    fields = parse_device_licence(regime.forge(governor)).model_dump()
    with pytest.raises(ValidationError, match="not_after must be after not_before"):
        DeviceLicence(**dict(fields, not_after=fields["not_before"]))
    run = parse_run_licence(regime.run([governor]))
    pod = run.devices[0]
    with pytest.raises(Exception, match="each device once"):
        type(run)(**dict(run.model_dump(), devices=(pod.model_dump(), pod.model_dump())))


def test_run_licences_verify_and_describe(regime: Regime) -> None:
    governor = regime.device()
    envelope = regime.run([governor])
    run = verify_run_licence(envelope, regime.c.root)
    assert run.member(governor.device_key.key_id).serial == "gpu-0001"
    assert describe_run(run)[0] == "run licence run-1 (licence), policy v1"
    licence = parse_device_licence(regime.forge(governor))
    assert describe_device(licence)[0].startswith("device licence #1 for gpu-0001")
    assert licence.not_before == NOW - 60
