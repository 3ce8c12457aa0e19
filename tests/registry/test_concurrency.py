"""Concurrent intakes: two workers never validate against the same registry state."""

from __future__ import annotations

import threading
from pathlib import Path

from pausebutton.errors import Error
from pausebutton.governance.policy import Policy
from pausebutton.registry.compliance import regulation_from_policy
from pausebutton.regulation.parameters import ProductionCap as PolicyCap
from tests.registry.conftest import Cast
from tests.registry.world import NOW, World, key, refused, sqlite_url


def test_concurrent_sales_of_one_chip_accept_exactly_one(
    world: World, cast: Cast, db_url: str, tmp_path: Path
) -> None:
    world.submit(world.made(cast.maker, "S1"))
    buyers = [world.actor(f"buyer{i}", ["distributor"], "TW") for i in range(6)]
    sales = [
        world.event("chip.transferred", cast.maker, b, serial="S1", buyer=b.key_id) for b in buyers
    ]
    workers = [World(db_url) for _ in sales]
    outcomes: list[str] = []
    start = threading.Barrier(len(sales))

    def sell(w: World, sale: object) -> None:
        start.wait()
        try:
            w.submit(sale)  # type: ignore[arg-type]
            outcomes.append("accepted")
        except Error as exc:
            outcomes.append(type(exc).__name__)

    threads = [
        threading.Thread(target=sell, args=pair) for pair in zip(workers, sales, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for w in workers:
        w.close()
    # The losers waited for the winner and were refused by the rules, not by a conflict.
    assert sorted(outcomes) == ["ValidationError"] * (len(sales) - 1) + ["accepted"], outcomes
    holder = world.chip("S1").holder
    assert holder in {b.key_id for b in buyers}
    assert world.replay_and_compare(sqlite_url(tmp_path, "replayed.db")).equal


def test_caps_from_the_governance_policy_apply(tmp_path: Path) -> None:
    policy = Policy(
        version=1,
        expires=NOW + 86400,
        production_caps={
            "acme": PolicyCap(manufacturer="acme", max_chips=1, max_tpp=10**6, period_s=86400)
        },
    )
    world = World(sqlite_url(tmp_path, "caps.db"), regulation_from_policy(policy))
    try:
        maker = world.actor("acme", ["manufacturer"], "TW")
        world.submit(world.made(maker, "S1"))
        refused(world, "over the cap of 1 chips", world.made(maker, "S2"))
        assert key("acme").key_id == maker.key_id
    finally:
        world.close()
