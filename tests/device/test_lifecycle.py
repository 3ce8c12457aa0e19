"""A device's life through the real log: licensed, charged, spent, renewed, paused, unlocked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pausebutton.crypto import Envelope
from pausebutton.device.errors import UnlockRefusedError
from pausebutton.device.governor import Governor
from pausebutton.device.provision import describe_status
from pausebutton.device.receipts import check_receipt_chain
from pausebutton.device.secure_element import FileSecureElement
from pausebutton.errors import ValidationError
from pausebutton.licensing import parse_request
from pausebutton.licensing.office import LicensingOffice
from pausebutton.log import note
from pausebutton.log.tlog import TransparencyLog
from tests.device.regime import Regime, secrets
from tests.governance.ceremony import DAY, NOW

ORIGIN = "authority.example/licences"


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[Regime, LicensingOffice]]:
    regime = Regime()
    log = TransparencyLog.open(
        f"sqlite:///{tmp_path / 'log.db'}", ORIGIN, note.Signer.generate(ORIGIN)
    )
    clock = [float(NOW)]
    made = LicensingOffice(
        log, regime.licensing_keys[:1], lambda: regime.c.root, clock=lambda: clock[0]
    )
    yield regime, made
    log.close()


def test_a_pod_is_licensed_charged_renewed_and_paused(
    office: tuple[Regime, LicensingOffice], tmp_path: Path
) -> None:
    regime, desk = office
    a = regime.device("gpu-a", element=FileSecureElement.create(tmp_path / "a", secrets("a")))
    b = regime.device("gpu-b")
    run = desk.issue_run(
        run_id="run-7",
        licensee=regime.c.registrar[0].key_id,
        flop_budget=3_000,
        devices=[regime.pod(a), regime.pod(b)],
        not_before=NOW,
        not_after=NOW + 10 * DAY,
        policy=regime.policy,
        directives=[],
    )
    assert run.index == 0
    assert "below notify_flop" in run.notes[0]
    receipts: dict[str, list[Envelope]] = {"a": [], "b": []}

    def licence(governor: Governor, name: str, budget: int) -> None:
        request = governor.request_licence(NOW)
        receipts[name].append(parse_request(request).receipt)
        logged = desk.issue_device(
            request, run_id="run-7", flop_budget=budget, policy=regime.policy, directives=[]
        )
        governor.install_licence(logged.envelope, NOW)

    licence(a, "a", 1_000)
    licence(b, "b", 1_000)
    assert [a.authorize(400, now=NOW).decision for _ in range(3)] == [
        "granted",
        "granted",
        "throttled",
    ]
    receipts["a"].append(a.receipt(NOW + 1))
    licence(a, "a", 1_000)  # renewal: counts from the 800 the receipt reported
    assert a.remaining() == 1_000
    with pytest.raises(ValidationError, match="would commit 3001 FLOP of the run's 3000"):
        desk.issue_device(
            b.request_licence(NOW),
            run_id="run-7",
            flop_budget=1_201,
            policy=regime.policy,
            directives=[],
        )
    assert desk.log.size == 4
    book = desk.book()
    assert book.committed("run-7") == 2_800
    assert [i.licence.sequence for i in book.issued_to(a.device_key.key_id)] == [1, 2]
    # A pause halts the pod, and keys for locked models stay locked.
    assert a.authorize(100, now=NOW + 2).decision == "granted"
    peer = X25519PrivateKey.generate()
    peer_public = peer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = a.key_agreement(peer_public, NOW + 2)
    assert shared == peer.exchange(X25519PublicKey.from_public_bytes(a.x25519_public()))
    regime.pause("stop-all")
    a.observe(regime.view(), NOW + 3, NOW + 3)
    assert a.authorize(100, now=NOW + 3).decision == "halted"
    with pytest.raises(UnlockRefusedError, match="stop-all"):
        a.key_agreement(peer_public, NOW + 3)
    receipts["a"].append(a.receipt(NOW + 4))
    # The state survives a restart, and the verifier finds nothing wrong.
    again = Governor(FileSecureElement(tmp_path / "a"))
    assert (again.counters, again.licence) == (a.counters, a.licence)
    keys = {g.device_key.key_id: g.device_key for g in (a, b)}
    assert check_receipt_chain([*receipts["a"], *receipts["b"]], keys) == []
    status = "\n".join(describe_status(again, NOW + 5))
    assert f"{a.counters.licensed_ops} ops charged to licences" in status
    assert "no governance view since start" in status


def test_an_unlicensed_device_may_not_unlock(office: tuple[Regime, LicensingOffice]) -> None:
    regime, _ = office
    governor = regime.device()
    with pytest.raises(UnlockRefusedError, match="no licence"):
        governor.may_unlock(NOW)
    governor.install_licence(regime.forge(governor, flop_budget=1), NOW)
    governor.authorize(1, now=NOW)
    governor.may_unlock(NOW)  # a spent budget still leaves the licence valid for unlocking
    governor.observe(regime.view(), NOW + 30 * DAY, NOW + 30 * DAY)
    with pytest.raises(UnlockRefusedError, match="expired"):
        governor.may_unlock(NOW + 30 * DAY)
