"""Licences as log events: who may submit them, what the log refuses, and the book replayed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pausebutton.errors import SignatureError, ValidationError
from pausebutton.licensing import (
    DEVICE_ISSUED,
    RUN_ISSUED,
    book_from_log,
    device_issued_event,
    licensing_policy,
    parse_request,
    run_issued_event,
)
from pausebutton.log import note
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import EVENT_TYPES, make_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog
from tests.device.regime import Regime
from tests.governance.ceremony import NOW, key

ORIGIN = "authority.example/licences"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[TransparencyLog]:
    made = TransparencyLog.open(
        f"sqlite:///{tmp_path / 'log.db'}", ORIGIN, note.Signer.generate(ORIGIN)
    )
    yield made
    made.close()


def _intake(log: TransparencyLog, regime: Regime, roles: frozenset[str]) -> EventLog:
    actor = ActorKey(regime.licensing_keys[0].public, roles, name="licensing")
    return EventLog(
        log, anchors=[actor], policy=licensing_policy(lambda: regime.c.root), clock=lambda: NOW
    )


def test_the_event_types_are_registered() -> None:
    assert RUN_ISSUED in EVENT_TYPES
    assert DEVICE_ISSUED in EVENT_TYPES
    assert EVENT_TYPES.get(RUN_ISSUED).roles == frozenset({"licensing"})


def test_issued_licences_replay_into_the_same_book(log: TransparencyLog) -> None:
    regime = Regime()
    a, b = regime.device("gpu-a"), regime.device("gpu-b")
    signer = regime.licensing_keys[0]
    intake = _intake(log, regime, frozenset({"licensing"}))
    intake.submit(run_issued_event(regime.run([a, b], flop=10**7), signer, NOW))
    for governor in (a, b, a):
        request = governor.request_licence(NOW)
        licence = regime.issue(request, 10**6)
        governor.install_licence(licence, NOW)
        governor.authorize(1000, now=NOW)
        intake.submit(device_issued_event(licence, parse_request(request).receipt, signer, NOW))
    book = book_from_log(enumerate(log.entries(0, log.size)))
    assert book.runs == regime.book.runs
    assert book.committed("run-1") == regime.book.committed("run-1") == 2 * 10**6 + 1000
    assert book.issued_to(a.device_key.key_id) == regime.book.issued_to(a.device_key.key_id)
    assert book.last_sequence(a.device_key.key_id) == 2


def test_a_licence_from_another_role_is_refused(log: TransparencyLog) -> None:
    regime = Regime()
    governor = regime.device()
    signer = regime.licensing_keys[0]
    intake = _intake(log, regime, frozenset({"licensing"}))
    forged = regime.forge(governor, keys=[key("mallory")])
    receipt = governor.receipt(NOW)
    with pytest.raises(SignatureError, match="0 valid signature"):
        intake.submit(device_issued_event(forged, receipt, signer, NOW))
    assert log.size == 0


def test_only_licensing_actors_submit_licences(log: TransparencyLog) -> None:
    regime = Regime()
    governor = regime.device()
    intake = _intake(log, regime, frozenset({"registrar"}))
    event = run_issued_event(regime.run([governor]), regime.licensing_keys[0], NOW)
    with pytest.raises(ValidationError, match=r"may not submit licence\.run_issued"):
        intake.submit(event)
    assert log.size == 0


def test_a_malformed_licence_event_is_refused(log: TransparencyLog) -> None:
    regime = Regime()
    intake = _intake(log, regime, frozenset({"licensing"}))
    pause = regime.c.pause()
    event = make_event(
        RUN_ISSUED, pause.model_dump(mode="json"), regime.licensing_keys[0], time=NOW
    )
    with pytest.raises(ValidationError, match=r"expected a pausebutton\.run-licence/v1"):
        intake.submit(event)
    a, b = regime.device("gpu-a"), regime.device("gpu-b")
    regime.run([a, b])
    licence = regime.licence(a)
    wrong = device_issued_event(licence, b.receipt(NOW), regime.licensing_keys[0], NOW)
    with pytest.raises(ValidationError, match="not by the licensed device"):
        intake.submit(wrong)
    assert log.size == 0
