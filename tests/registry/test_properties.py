"""Properties: any sequence of valid and invalid events leaves replay equal to live."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.registry.scenario import OPERATIONS, Op, Scenario
from tests.registry.world import World, sqlite_url

ops = st.lists(
    st.tuples(
        st.integers(0, len(OPERATIONS) - 1),
        st.integers(0, 63),
        st.integers(0, 15),
        st.integers(0, 3),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_events_leave_replay_equal_to_live(history: list[Op]) -> None:
    """Refused events change nothing; accepted ones change the registry as replay does."""
    with tempfile.TemporaryDirectory() as tmp:
        world = World(sqlite_url(Path(tmp), "live.db"))
        try:
            scenario = Scenario(world, check_each=True)
            scenario.setup()
            scenario.run(history)
            result = world.replay_and_compare(sqlite_url(Path(tmp), "replayed.db"))
            assert result.equal, result.first_difference
        finally:
            world.close()
