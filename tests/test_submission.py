"""Event intake on the stored log: only validated events are appended, atomically, once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pausebutton.crypto import SigningKey
from pausebutton.errors import ReplayError, SignatureError, ValidationError
from pausebutton.log import merkle, note
from pausebutton.log.proofs import verify_inclusion_bundle
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.events import make_event
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog
from pausebutton.store import make_engine
from pausebutton.store.models import metadata

ORIGIN = "authority.example/log"
LOG_SIGNER = note.Signer.generate(ORIGIN)
REGISTRAR = SigningKey.from_seed(b"r" * 32)
LAB = SigningKey.from_seed(b"l" * 32)
NOW = 1_800_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def intake(db_url: str) -> Iterator[EventLog]:
    log = TransparencyLog.open(db_url, origin=ORIGIN, signer=LOG_SIGNER)
    anchor = ActorKey(key=REGISTRAR.public, roles=frozenset({"registrar"}), name="registrar")
    yield EventLog(log, anchors=[anchor], clock=lambda: NOW)
    log.close()


def _register(key: SigningKey, name: str, roles: list[str]) -> bytes:
    payload = {
        "name": name,
        "roles": roles,
        "public_key": base64.b64encode(key.public.raw).decode(),
    }
    return make_event("actor.registered", payload, REGISTRAR, time=NOW).to_bytes()


def test_accepted_event_gets_a_receipt_that_verifies(intake: EventLog) -> None:
    event = _register(LAB, "Example Lab", ["lab"])
    receipt = intake.submit(event)
    assert receipt.index == 0
    stored = intake.log.entry(0)
    cp = verify_inclusion_bundle(receipt, LOG_SIGNER.verifier(), ORIGIN, entry=stored)
    assert cp.root_hash == merkle.root([stored])


def test_registered_actor_can_then_submit(intake: EventLog) -> None:
    intake.submit(_register(LAB, "Example Lab", ["lab"]))
    receipt = intake.submit(make_event("log.note", {"text": "hello"}, LAB, time=NOW))
    assert receipt.index == 1


def test_registration_and_use_in_one_batch(intake: EventLog) -> None:
    batch = [
        _register(LAB, "Example Lab", ["lab"]),
        make_event("log.note", {"text": "first words"}, LAB, time=NOW).to_bytes(),
    ]
    assert intake.submit_batch(batch) == [0, 1]


def test_unknown_actor_is_refused_and_nothing_is_appended(intake: EventLog) -> None:
    with pytest.raises(SignatureError, match="event 0"):
        intake.submit(make_event("log.note", {"text": "hi"}, LAB, time=NOW))
    assert intake.log.size == 0


def test_replayed_event_is_refused(intake: EventLog) -> None:
    event = _register(LAB, "Example Lab", ["lab"])
    intake.submit(event)
    with pytest.raises(ReplayError):
        intake.submit(event)
    assert intake.log.size == 1


def test_replay_inside_one_batch_is_refused(intake: EventLog) -> None:
    intake.submit(_register(LAB, "Example Lab", ["lab"]))
    note_event = make_event("log.note", {"text": "twice"}, LAB, time=NOW).to_bytes()
    with pytest.raises(ReplayError, match="event 1"):
        intake.submit_batch([note_event, note_event])
    assert intake.log.size == 1


def test_one_bad_event_refuses_the_whole_batch(intake: EventLog) -> None:
    good = _register(LAB, "Example Lab", ["lab"])
    stale = make_event("log.note", {"text": "old"}, REGISTRAR, time=NOW - 10_000).to_bytes()
    with pytest.raises(ReplayError, match="event 1"):
        intake.submit_batch([good, stale])
    assert intake.log.size == 0
    assert intake.submit(good).index == 0


def test_actor_without_the_role_is_refused(intake: EventLog) -> None:
    intake.submit(_register(LAB, "Example Lab", ["lab"]))
    other = SigningKey.from_seed(b"o" * 32)
    with pytest.raises(ValidationError, match="event 0"):
        intake.submit(
            make_event(
                "actor.registered",
                {"name": "x", "roles": ["lab"], "public_key": other.public.to_base64()},
                LAB,
                time=NOW,
            )
        )
    assert intake.log.size == 1


def test_registering_a_key_twice_is_refused(intake: EventLog) -> None:
    intake.submit(_register(LAB, "Example Lab", ["lab"]))
    with pytest.raises(ValidationError, match="already registered"):
        intake.submit(_register(LAB, "Example Lab again", ["lab"]))


def test_registrations_survive_reopening(db_url: str) -> None:
    log = TransparencyLog.open(db_url, origin=ORIGIN, signer=LOG_SIGNER)
    anchor = ActorKey(key=REGISTRAR.public, roles=frozenset({"registrar"}), name="registrar")
    EventLog(log, anchors=[anchor], clock=lambda: NOW).submit(_register(LAB, "Lab", ["lab"]))
    log.close()
    reopened = TransparencyLog.open(db_url, origin=ORIGIN, signer=LOG_SIGNER)
    intake = EventLog(reopened, anchors=[anchor], clock=lambda: NOW)
    assert intake.submit(make_event("log.note", {"text": "back"}, LAB, time=NOW)).index == 1
    reopened.close()


def test_migrations_match_the_models(db_url: str) -> None:
    """Alembic's migrations create exactly the schema the code's models describe."""
    TransparencyLog.open(db_url, origin=ORIGIN).close()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
