"""Each detector finds the violation planted in an otherwise clean history, with its evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pausebutton.crypto import SigningKey
from pausebutton.device.governor import Governor
from pausebutton.device.receipts import parse_receipt, sign_document
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.licensing import device_issued_event, licence_id, parse_request
from pausebutton.verify.accountancy import account, accountancy_findings
from pausebutton.verify.detectors import run_detectors
from pausebutton.verify.findings import Finding
from pausebutton.verify.geolocate import Verdict
from tests.device.regime import secrets
from tests.governance.ceremony import DAY
from tests.verify.scenarios import BUDGET, SITES, Town, clean_town


@pytest.fixture
def town(tmp_path: Path) -> Iterator[Town]:
    made = clean_town(tmp_path, days=0)
    yield made
    made.close()


def findings(town: Town) -> list[Finding]:
    """What the detectors and the accountancy find in the town's log."""
    history = town.history()
    params = town.params()
    return run_detectors(history, params) + accountancy_findings(account(history, params))


def checks(found: list[Finding]) -> set[str]:
    """The checks that fired."""
    return {f.check for f in found}


def entries(found: list[Finding], check: str) -> set[int]:
    """Every leaf the findings of `check` name."""
    return {i for f in found if f.check == check for i in f.evidence["entries"]}  # type: ignore[union-attr]


def test_a_clean_history_has_no_findings(town: Town) -> None:
    c = town.chips["gpu-001"]
    lat, lon, near = town.site_of(c)
    town.days(12)
    town.locate(c.serial, lat, lon, near, "US")
    town.days(30)
    assert findings(town) == []


def test_a_chip_that_went_dark_is_found(town: Town) -> None:
    town.days(5)
    c = town.chips["gpu-002"]
    last = town.report(c)
    c.reporting = False
    town.days(35)
    found = findings(town)
    assert checks(found) == {"dark", "accountancy"}
    (dark,) = [f for f in found if f.check == "dark"]
    assert dark.severity == "error"
    assert dark.evidence["serial"] == "gpu-002"
    assert dark.evidence["entries"] == [last]
    (alarm,) = [f for f in found if f.check == "accountancy"]
    assert alarm.evidence["unaccounted"] == ["gpu-002"]


def test_rolled_back_counter_is_detected(town: Town) -> None:
    c = town.chips["gpu-001"]
    town.days(10)
    element = c.governor.element
    assert isinstance(element, MemorySecureElement)
    saved = MemorySecureElement(secrets(c.serial), element.data)
    town.days(4)
    c.reporting = False
    town.days(1)
    c.governor = Governor(saved)  # root puts an older genuine copy of the state back
    c.reporting, c.renew_days = True, 10**6  # the issuer would refuse its stale receipts
    c.governor.observe(town.regime.view(), town.now, town.now)
    first = town.report(c)
    second = town.report(c)  # no work since the copy: below what it already reported
    town.days(5)
    found = findings(town)
    assert checks(found) == {"fork", "rollback"}
    assert first in entries(found, "fork")
    assert second in entries(found, "rollback")
    assert all(f.severity == "critical" for f in found)


def test_cloned_device_key_is_detected_from_concurrent_receipts(town: Town) -> None:
    c = town.chips["gpu-001"]
    town.days(10)
    element = c.governor.element
    assert isinstance(element, MemorySecureElement)
    clone = Governor(element.restart())  # the same keys and state, on other silicon
    leaves = []
    for _ in range(4):
        town.days(1)
        clone.observe(town.regime.view(), town.now, town.now)
        clone.authorize(10**18, now=town.now)
        leaves.append(town.report(c, clone))
    found = findings(town)
    assert "cloned-identity" in checks(found)
    assert checks(found) <= {"cloned-identity", "fork", "rollback"}
    assert set(leaves) <= entries(found, "cloned-identity")


def test_clone_answering_from_two_coasts_is_detected(town: Town) -> None:
    c = town.chips["gpu-001"]
    lat, lon, near = town.site_of(c)
    town.days(10)
    town.locate(c.serial, lat, lon, near, "US", "ashburn-check")
    town.now += 10
    town.locate(c.serial, 34.05, -118.24, ("los-angeles", "seattle"), "US", "west-check")
    town.days(1)
    found = findings(town)
    (clone,) = [f for f in found if f.check == "cloned-identity"]
    assert clone.severity == "error"
    assert clone.evidence["checks"] == ["ashburn-check", "west-check"]
    assert checks(found) <= {"cloned-identity", "diversion"}


def test_licence_never_logged_is_detected(town: Town) -> None:
    c = town.chips["gpu-000"]
    town.days(10)
    hidden = town.regime.forge(
        c.governor,
        counter_base=c.governor.counters.licensed_ops,
        not_before=town.now - 60,
        not_after=town.now + 30 * DAY,
        issued=town.now - 60,
    )
    c.governor.install_licence(hidden, town.now)
    c.renew_days = 10**6
    town.days(3)
    found = findings(town)
    assert checks(found) == {"licence-replay"}
    (replay,) = {f.evidence["licence"] for f in found}
    assert replay == licence_id(hidden)
    assert all(f.severity == "critical" for f in found)


def test_licences_over_a_runs_budget_are_detected(town: Town) -> None:
    c = town.chip("gpu-009", lessee="lab-b")
    town.run("run-small", [c], flop=3 * 10**20)
    town.days(3)
    request = c.governor.request_licence(town.now)
    extra = town.regime.forge(
        c.governor,
        run_id="run-small",
        run_flop=3 * 10**20,
        flop_budget=4 * 10**20,
        counter_base=c.governor.counters.licensed_ops,
        not_before=town.now,
        not_after=town.now + 30 * DAY,
        issued=town.now,
    )
    c.governor.install_licence(extra, town.now)
    (leaf,) = town.submit(
        device_issued_event(extra, parse_request(request).receipt, town.licensing, town.now)
    )
    c.renew_days = 10**6
    town.days(3)
    found = findings(town)
    assert checks(found) == {"budget-overrun"}
    (over,) = found
    assert over.evidence["run"] == "run-small"
    assert over.evidence["measure"] == "commit"
    assert leaf in over.evidence["entries"]  # type: ignore[operator]


@pytest.mark.parametrize("same_owner", [True, False])
def test_split_run_across_accounts_is_detected(town: Town, same_owner: bool) -> None:
    chips = []
    for n in (1, 2):
        name = f"acct-{n}"
        owners = ("Mallory Holdings",) if same_owner else (f"owner {n}",)
        town.labs[name] = town.actor(name, ["lab"], "US", owners=owners)
        chips.append(town.chip(f"gpu-10{n}", lessee=name))
    runs = []
    for n, c in enumerate(chips, 1):
        town.run(f"part-{n}", [c], flop=6 * 10**20)
        runs.append(f"part-{n}")
    town.days(3)
    found = findings(town)
    if not same_owner:
        assert found == []
        return
    assert checks(found) == {"split-run"}
    (split,) = found
    assert split.evidence["owner"] == "Mallory Holdings"
    assert split.evidence["runs"] == runs


def test_diverted_chip_is_detected(town: Town) -> None:
    c = town.chips["gpu-001"]
    town.days(20)
    _, lat, lon, near = SITES["dc-de"]
    check = town.locate(c.serial, lat, lon, near, "US", "frankfurt-check")
    assert check.verdict.verdict == Verdict.FAIL
    town.days(2)
    found = findings(town)
    assert checks(found) == {"diversion"}
    assert {f.severity for f in found} == {"critical", "error"}
    assert {f.evidence["location_check"] for f in found} == {"frankfurt-check"}


def test_chip_in_a_jurisdiction_never_exported_to_is_detected(town: Town) -> None:
    c = town.chips["gpu-002"]
    town.days(20)
    _, lat, lon, near = SITES["dc-de"]
    check = town.locate(c.serial, lat, lon, near, "DE", "de-check")
    assert check.verdict.verdict == Verdict.PASS
    town.days(2)
    found = findings(town)
    assert checks(found) == {"diversion"}
    never = [f for f in found if "found_in" in f.evidence]
    assert [f.evidence["found_in"] for f in never] == ["DE"]
    assert never[0].evidence["allowed"] == ["TW", "US"]


@pytest.mark.parametrize("blind", [False, True])
def test_work_during_a_pause_is_detected(town: Town, blind: bool) -> None:
    rogue = town.chips["gpu-001"]
    rogue.blind, rogue.renew_days = blind, 10**6 if blind else 7
    town.days(20)
    pause_leaf = town.log.size
    town.pause("pause-1", days=3)
    town.days(3)
    town.resume("resume-1", "pause-1")
    town.days(10)
    found = findings(town)
    if not blind:
        assert found == []
        return
    assert checks(found) == {"pause-work"}
    assert {f.evidence["serial"] for f in found} == {"gpu-001"}
    assert all(pause_leaf in f.evidence["entries"] for f in found)  # type: ignore[operator]


def test_receipt_with_a_bad_signature_is_reported(town: Town) -> None:
    c = town.chips["gpu-000"]
    town.days(6)
    town.now += DAY
    town.day += 1
    request = c.governor.request_licence(town.now)
    licence = town.regime.issue(request, BUDGET, c.run, town.now)
    c.governor.install_licence(licence, town.now)
    real = parse_request(request).receipt
    mallory = SigningKey.from_seed(b"m" * 32)
    forged = sign_document(parse_receipt(real), c.governor.device_key.key_id, mallory.sign)
    (leaf,) = town.submit(device_issued_event(licence, forged, town.licensing, town.now))
    for other in town.chips.values():
        if other is not c:
            town.live(other, 10**19)
    town.days(2)
    found = findings(town)
    assert checks(found) == {"bad-signature", "gap"}  # the forged one is not in the chain
    (bad,) = [f for f in found if f.check == "bad-signature"]
    assert bad.evidence["entries"] == [leaf]
