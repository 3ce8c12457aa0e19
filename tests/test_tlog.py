"""The stored transparency log on SQLite and PostgreSQL: appends, proofs, checkpoints, crashes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pausebutton.errors import FormatError, ProofError, StoreError
from pausebutton.log import merkle, note
from pausebutton.log.checkpoint import open_checkpoint
from pausebutton.log.tlog import MAX_ENTRY_BYTES, TransparencyLog
from pausebutton.store import check_schema, make_engine
from pausebutton.store.models import log_head, log_tiles

ORIGIN = "test.example/log"
SIGNER_KEY = note.Signer.generate(ORIGIN)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: an SQLite file, or a database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def log(db_url: str) -> Iterator[TransparencyLog]:
    opened = TransparencyLog.open(db_url, origin=ORIGIN, signer=SIGNER_KEY)
    yield opened
    opened.close()


def test_appends_prove_and_verify_at_every_size(log: TransparencyLog) -> None:
    rng = random.Random(7)
    entries: list[bytes] = []
    for batch in [1, 2, 300, 1, 255, 600]:
        new = [rng.randbytes(rng.randint(0, 40)) for _ in range(batch)]
        assert log.append(new) == len(entries)
        entries += new
    assert log.size == len(entries)
    for size in [1, 2, 3, 255, 256, 257, 512, 700, len(entries)]:
        assert log.root(size) == merkle.root(entries[:size])
    for _ in range(60):
        size = rng.randint(1, len(entries))
        index, old = rng.randrange(size), rng.randint(1, size)
        proof = log.inclusion_proof(index, size)
        assert proof == merkle.inclusion_proof(entries[:size], index)
        merkle.verify_inclusion(
            merkle.leaf_hash(entries[index]), index, size, proof, log.root(size)
        )
        consistency = log.consistency_proof(old, size)
        merkle.verify_consistency(old, size, log.root(old), log.root(size), consistency)
    assert log.entries(0, len(entries)) == entries
    assert log.entry(300) == entries[300]


def test_checkpoint_is_signed_once_per_size_and_verifies(log: TransparencyLog) -> None:
    log.append([b"one", b"two", b"three"])
    text = log.checkpoint()
    assert log.checkpoint() == text
    cp, _ = open_checkpoint(text, SIGNER_KEY.verifier(), origin=ORIGIN)
    assert (cp.size, cp.root_hash) == (3, merkle.root([b"one", b"two", b"three"]))
    log.append([b"four"])
    newer = log.checkpoint()
    assert log.latest_checkpoint() == newer
    assert log.checkpoint_at(3) == text


def test_empty_log_has_the_empty_root(log: TransparencyLog) -> None:
    assert log.size == 0
    assert log.root() == merkle.EMPTY_ROOT


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "batch is empty"),
        ([b"good", b"x" * (MAX_ENTRY_BYTES + 1)], "over"),
        ([b"good", "text, not bytes"], "not bytes"),
    ],
)
def test_bad_batches_are_refused_and_change_nothing(
    log: TransparencyLog, entries: list[bytes], message: str
) -> None:
    log.append([b"kept"])
    with pytest.raises(FormatError, match=message):
        log.append(entries)
    assert log.size == 1
    assert log.root() == merkle.root([b"kept"])


def test_out_of_range_reads_and_proofs_are_refused(log: TransparencyLog) -> None:
    log.append([b"a", b"b", b"c"])
    with pytest.raises(ProofError):
        log.inclusion_proof(3, 3)
    with pytest.raises(ProofError):
        log.inclusion_proof(-1, 3)
    with pytest.raises(ProofError, match="beyond the log size"):
        log.inclusion_proof(0, 4)
    with pytest.raises(ProofError):
        log.consistency_proof(0, 3)
    with pytest.raises(ProofError):
        log.consistency_proof(4, 3)
    with pytest.raises(FormatError):
        log.entries(2, 4)
    with pytest.raises(FormatError):
        log.entry(-1)


def test_failure_inside_the_transaction_rolls_back_everything(log: TransparencyLog) -> None:
    log.append([b"kept"])

    def explode(_conn: object, _first: int) -> None:
        raise RuntimeError("projection failed")

    with pytest.raises(RuntimeError):
        log.append([b"lost"] * 300, within=explode)
    assert log.size == 1
    log.append([b"next"])
    assert log.root() == merkle.root([b"kept", b"next"])


def test_two_writers_on_one_database_stay_consistent(db_url: str) -> None:
    """Like two API workers: each notices the other's appends before writing its own."""
    first = TransparencyLog.open(db_url, origin=ORIGIN, signer=SIGNER_KEY)
    second = TransparencyLog.open(db_url, origin=ORIGIN, signer=SIGNER_KEY)
    expected: list[bytes] = []
    for i in range(6):
        writer = first if i % 2 else second
        batch = [f"{i}-{j}".encode() for j in range(100 + i)]
        writer.append(batch)
        expected += batch
    assert first.root() == second.root() == merkle.root(expected)
    first.close()
    second.close()


def test_a_database_of_another_log_is_refused(db_url: str) -> None:
    TransparencyLog.open(db_url, origin=ORIGIN).close()
    with pytest.raises(StoreError, match="holds the log"):
        TransparencyLog.open(db_url, origin="other.example/log")


def test_checkpoint_needs_the_signing_key(db_url: str) -> None:
    log = TransparencyLog.open(db_url, origin=ORIGIN)
    log.append([b"a"])
    with pytest.raises(StoreError, match="signing key"):
        log.checkpoint()
    log.close()


def test_schema_is_migrated_to_head(db_url: str) -> None:
    TransparencyLog.open(db_url, origin=ORIGIN).close()
    check_schema(make_engine(db_url))


def test_missing_tile_is_reported_not_guessed(log: TransparencyLog) -> None:
    log.append([bytes([i]) for i in range(10)])
    with log.engine.begin() as conn:
        conn.execute(log_tiles.delete())
    fresh = TransparencyLog(log.engine, ORIGIN)
    with pytest.raises(ProofError, match="missing"):
        fresh.inclusion_proof(0, 10)
    with pytest.raises(StoreError, match="missing"):
        fresh.append([b"x"])


def test_size_changed_under_the_cache_is_reread(log: TransparencyLog) -> None:
    """A head row moved by another writer is never written past with a stale edge."""
    log.append([b"a", b"b"])
    other = TransparencyLog(log.engine, ORIGIN)
    other.append([b"c"])
    log.append([b"d"])
    with log.engine.connect() as conn:
        assert conn.execute(select(log_head.c.size)).scalar_one() == 4
    assert log.root() == merkle.root([b"a", b"b", b"c", b"d"])
    with log.engine.begin() as conn:
        conn.execute(update(log_head).values(size=4))


# --- a real crash: SIGKILL in the middle of batch appends --------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from pausebutton.log.tlog import TransparencyLog
    log = TransparencyLog.open(sys.argv[1], origin=sys.argv[2])
    batch = 0
    while True:
        first = log.append([b"%d-%d" % (batch, i) + b"." * 200 for i in range(500)])
        # Acknowledge only after append returned, that is, after the commit.
        print(first + 500, flush=True)
        batch += 1
    """
)


def test_sigkill_mid_batch_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    TransparencyLog.open(url, origin=ORIGIN).close()
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, ORIGIN],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        acknowledged = 0
        deadline = time.monotonic() + 60
        # Let it acknowledge a few batches, then kill it at a random moment mid-append.
        while acknowledged < 2000 * (round_ + 1) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged = int(line)
        time.sleep(random.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        for line in rest.split():
            acknowledged = int(line)
        assert acknowledged > 0, "the writer never acknowledged a batch"
        log = TransparencyLog.open(url, origin=ORIGIN, signer=SIGNER_KEY)
        size = log.size
        assert size >= acknowledged
        assert size % 500 == 0, "a batch was half written"
        entries = log.entries(0, size)
        assert log.root() == merkle.root(entries)
        last = size - 1
        merkle.verify_inclusion(
            merkle.leaf_hash(entries[last]), last, size, log.inclusion_proof(last, size), log.root()
        )
        log.close()


def test_inclusion_bundle_is_a_receipt_an_auditor_checks_offline(log: TransparencyLog) -> None:
    from pausebutton.log.proofs import (
        bundle_bytes,
        parse_bundle,
        verify_consistency_bundle,
        verify_inclusion_bundle,
    )

    log.append([b"alpha", b"beta", b"gamma"])
    bundle = parse_bundle(bundle_bytes(log.inclusion_bundle(1)))
    assert bundle.format == "pausebutton.inclusion/v1"
    cp = verify_inclusion_bundle(bundle, SIGNER_KEY.verifier(), ORIGIN, entry=b"beta")
    assert cp.size == 3
    with pytest.raises(ProofError, match="does not hash"):
        verify_inclusion_bundle(bundle, SIGNER_KEY.verifier(), ORIGIN, entry=b"BETA")
    other = note.Signer.generate(ORIGIN)
    with pytest.raises(note.NoteError):
        verify_inclusion_bundle(bundle, other.verifier(), ORIGIN)
    log.append([b"delta"])
    later = log.inclusion_bundle(3)  # no checkpoint covers index 3 yet: one is signed
    assert verify_inclusion_bundle(later, SIGNER_KEY.verifier(), ORIGIN).size == 4
    consistency = parse_bundle(bundle_bytes(log.consistency_bundle(3)))
    assert consistency.format == "pausebutton.consistency/v1"
    old, new = verify_consistency_bundle(consistency, SIGNER_KEY.verifier(), ORIGIN)
    assert (old.size, new.size) == (3, 4)
    with pytest.raises(ProofError, match="no signed checkpoint"):
        log.consistency_bundle(2)


def test_witness_cosignatures_are_verified_and_stored(log: TransparencyLog) -> None:
    from pausebutton.log.cosignature import (
        CosignatureSigner,
        Witness,
        open_cosigned_checkpoint,
    )

    witness_key = CosignatureSigner.generate("witness.example/w1")
    witness = Witness(witness_key, SIGNER_KEY.verifier(), ORIGIN)
    log.append([b"a", b"b"])
    first = log.checkpoint()
    assert log.add_cosignatures(witness.cosign(first, [], now=1000), [witness_key.verifier()]) == 1
    log.append([b"c"])
    second = log.checkpoint()
    cosigned = witness.cosign(second, log.consistency_proof(2, 3), now=1001)
    assert log.add_cosignatures(cosigned, [witness_key.verifier()]) == 1
    assert log.add_cosignatures(cosigned, [witness_key.verifier()]) == 0  # stored once
    cp, found = open_cosigned_checkpoint(
        log.cosigned_checkpoint(3), SIGNER_KEY.verifier(), [witness_key.verifier()], quorum=1
    )
    assert cp.size == 3
    assert found[0].timestamp == 1001


def test_cosignature_on_a_checkpoint_the_log_never_signed_is_refused(
    log: TransparencyLog,
) -> None:
    from pausebutton.log.checkpoint import Checkpoint, sign_checkpoint
    from pausebutton.log.cosignature import CosignatureSigner, cosign

    witness_key = CosignatureSigner.generate("witness.example/w1")
    log.append([b"a"])
    forged = sign_checkpoint(Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"other")), SIGNER_KEY)
    with pytest.raises(note.NoteError, match="never signed"):
        log.add_cosignatures(cosign(forged, witness_key, 5), [witness_key.verifier()])


@pytest.mark.parametrize("index", ['"2"', "2.0", "true"])
def test_bundle_with_a_non_integer_index_is_refused(index: str) -> None:
    from pausebutton.log.proofs import parse_bundle

    text = (
        '{"format": "pausebutton.inclusion/v1", "index": '
        + index
        + ', "leaf_hash": "'
        + "A" * 43
        + '=", "proof": [], "checkpoint": "x"}'
    )
    with pytest.raises(FormatError, match="index"):
        parse_bundle(text)


def test_bundle_with_a_malformed_proof_hash_is_refused() -> None:
    from pausebutton.log.proofs import parse_bundle

    text = (
        '{"format": "pausebutton.inclusion/v1", "index": 0, "leaf_hash": "'
        + "A" * 43
        + '=", "proof": ["short"], "checkpoint": "x"}'
    )
    with pytest.raises(FormatError, match="proof"):
        parse_bundle(text)


def test_log_key_named_other_than_the_origin_is_refused(db_url: str) -> None:
    with pytest.raises(FormatError, match="not its origin"):
        TransparencyLog.open(db_url, origin=ORIGIN, signer=note.Signer.generate("other/log"))


def test_proving_an_entry_beyond_an_empty_log_signs_nothing(log: TransparencyLog) -> None:
    with pytest.raises(ProofError, match="out of range"):
        log.inclusion_bundle(0)
    assert log.latest_checkpoint() is None
