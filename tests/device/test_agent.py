"""The device agent over a real regime: TUF over HTTP, a licensing office, a log intake."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from pausebutton.crypto import Envelope
from pausebutton.device.agent import Agent, Renewal
from pausebutton.device.receipts import check_receipt_chain, parse_receipt
from pausebutton.device.sandbox import Sandbox, open_sandbox
from pausebutton.errors import StoreError
from pausebutton.governance.serve import RepositoryServer
from pausebutton.licensing.licences import parse_device_licence

DAY = 86_400
BUDGET = 1_000_000


class Clock:
    """A settable clock starting at the real time (TUF checks expiry by the real clock)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[Sandbox]:
    made = open_sandbox(tmp_path / "sb", run_flop=10**9, device_budget=BUDGET, clock=clock)
    yield made
    made.close()


def _chain_ok(sandbox: Sandbox) -> None:
    key = sandbox.governor.device_key
    assert check_receipt_chain(sandbox.receipts(), {key.key_id: key}) == []


def test_the_first_tick_refreshes_licenses_and_logs_the_receipt(sandbox: Sandbox) -> None:
    report = sandbox.agent.tick()
    assert report.refreshed is True
    assert report.contact_age_s == 0
    assert report.renewed == 1
    assert report.status.decision == "granted"
    assert len(report.uploaded) == 1
    assert sandbox.governor.remaining() == BUDGET
    assert sandbox.office.book().last_sequence(sandbox.governor.device_key.key_id) == 1
    assert "licence #1 installed" in report.lines()
    again = sandbox.agent.tick()  # nothing new: nothing signed, nothing renewed
    assert (again.renewed, again.uploaded, again.pending) == (None, (), 0)
    _chain_ok(sandbox)


def test_the_agent_renews_when_the_budget_runs_low_counting_from_its_latest_receipt(
    sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.agent.tick()
    governor = sandbox.governor
    assert governor.authorize(BUDGET - 50_000, now=int(clock())).decision == "granted"
    assert sandbox.agent.needs_licence(int(clock()))
    report = sandbox.agent.tick()
    assert report.renewed == 2
    licence = governor.licence
    assert licence is not None
    assert licence.counter_base == BUDGET - 50_000
    assert governor.remaining() == BUDGET
    _chain_ok(sandbox)


def test_the_agent_renews_a_licence_nearing_its_end(sandbox: Sandbox, clock: Clock) -> None:
    sandbox.agent.tick()
    first = sandbox.governor.licence
    assert first is not None
    sandbox.agent.renewal = Renewal(before_expiry_s=2 * DAY)
    clock.now = first.not_after - DAY
    report = sandbox.agent.tick()
    assert report.refreshed is True
    assert report.renewed == 2


def test_challenges_are_answered_with_receipts_that_carry_the_nonce_and_reach_the_log(
    sandbox: Sandbox,
) -> None:
    asked = ["challenge-aaaaaaaaaaaa", "challenge-bbbbbbbbbbbb"]
    sandbox.agent.challenges = lambda: asked
    report = sandbox.agent.tick()
    assert report.answered == tuple(asked)
    nonces = [parse_receipt(r).nonce for r in sandbox.receipts()]
    assert nonces[-2:] == asked
    _chain_ok(sandbox)


def test_a_receipt_signed_outside_the_agent_still_reaches_the_log(
    sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.agent.tick()
    outside = sandbox.governor.receipt(int(clock()), "from-the-cli-0123456")
    sandbox.agent.tick()
    assert outside in sandbox.receipts()
    _chain_ok(sandbox)


def test_loss_of_contact_fails_closed_and_the_report_says_so(
    sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.agent.tick()
    port = int(sandbox.server.url.rsplit(":", 1)[1])
    sandbox.server.stop()
    clock.now += 60
    report = sandbox.agent.tick()
    assert report.refreshed is False
    assert report.refresh_error is not None
    assert not report.fail_closed  # within freshness_s the device still works
    clock.now += DAY
    report = sandbox.agent.tick()
    assert report.fail_closed
    assert report.status.decision == "halted"
    assert report.contact_age_s == DAY + 60
    assert "fail closed" in "\n".join(report.lines())
    assert sandbox.governor.authorize(1, now=int(clock())).decision == "halted"
    # Contact again: the next good refresh lifts the halt.
    sandbox.server = RepositoryServer(sandbox.workspace.repo_dir, port=port).start()
    report = sandbox.agent.tick()
    assert report.refreshed is True
    assert report.status.decision == "granted"


def test_a_pause_halts_the_device_and_defers_renewal_until_a_witnessed_resume(
    sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.agent.tick()
    sandbox.governor.authorize(BUDGET, now=int(clock()))
    sandbox.pause()
    report = sandbox.agent.tick()
    assert (report.status.decision, report.status.cause) == ("halted", "pause")
    assert report.renew_error is not None
    assert report.renew_error.startswith("deferred: pause pause-1")
    assert report.renewed is None
    published = sandbox.resume()
    assert published.cosignatures >= published.needed == 2
    report = sandbox.agent.tick()
    assert report.renewed == 2
    assert report.status.decision == "granted"


class _Flaky:
    """A receipt intake that is down for its first `failures` calls."""

    def __init__(self, sandbox: Sandbox, failures: int) -> None:
        self.sandbox, self.failures = sandbox, failures

    def submit_batch(self, items: Sequence[Envelope]) -> list[int]:
        if self.failures:
            self.failures -= 1
            raise StoreError("the intake is down")
        return self.sandbox.intake.submit_batch(items)


def test_receipts_that_fail_to_upload_wait_in_the_outbox_across_a_restart(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"

    def agent(failures: int) -> Agent:
        return Agent(
            sandbox.governor,
            sandbox.client,
            desk=sandbox.desk,
            sink=_Flaky(sandbox, failures),
            operator=sandbox.lab,
            outbox=outbox,
            clock=sandbox.clock,
        )

    report = agent(failures=1).tick()
    assert report.upload_error is not None
    assert report.pending == 1
    assert len(list(outbox.glob("*.json"))) == 1
    restarted = agent(failures=0)
    assert len(restarted.pending) == 1
    report = restarted.tick()
    assert (len(report.uploaded), report.pending) == (1, 0)
    assert list(outbox.glob("*.json")) == []
    assert agent(failures=0).tick().uploaded == ()  # not uploaded twice after a restart
    _chain_ok(sandbox)


def test_an_agent_without_a_desk_or_intake_only_keeps_governance_fresh(
    sandbox: Sandbox,
) -> None:
    bare = Agent(sandbox.governor, sandbox.client, clock=sandbox.clock)
    report = bare.tick()
    assert report.refreshed is True
    assert (report.renewed, report.uploaded) == (None, ())
    assert report.status.cause == "no_licence"
    with pytest.raises(ValueError, match="operator"):
        Agent(sandbox.governor, sink=sandbox.intake)


def test_the_licences_the_agent_installs_are_the_ones_in_the_log(sandbox: Sandbox) -> None:
    sandbox.agent.tick()
    book = sandbox.office.book()
    (issued,) = book.issued_to(sandbox.governor.device_key.key_id)
    installed = sandbox.governor.state.licence
    assert installed is not None
    assert parse_device_licence(installed) == issued.licence


class _Ticking(Clock):
    """A clock that moves on a second at every reading (a slow authority, a busy host)."""

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_a_licence_dated_after_the_request_by_the_desks_clock_is_still_installed(
    tmp_path: Path,
) -> None:
    clock = _Ticking()
    with open_sandbox(tmp_path / "sb", device_budget=BUDGET, clock=clock) as sb:
        report = sb.agent.tick()
        assert report.renew_error is None
        assert report.renewed == 1
        assert report.status.decision == "granted"
