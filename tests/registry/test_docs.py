"""docs/registry.md shows real events, the real rules table, and a real KYC opening."""

from __future__ import annotations

import re
from pathlib import Path

from pausebutton.registry.actors import ActorKycRecorded, check_opening
from pausebutton.registry.rules import RULES, rules_table
from tests.registry.examples import MAKER, opening, pretty, story
from tests.registry.world import World, sqlite_url

DOC = Path(__file__).parents[2] / "docs" / "registry.md"


def _blocks(marker: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"<!-- {marker} -->\n```json\n(.*?)\n```", text, re.DOTALL)


def rules_markdown() -> str:
    """The rules table as the page shows it."""
    head = (
        "| event | roles that may submit | submitted by | co-signed by | from states | to state |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join("| " + " | ".join([f"`{r[0]}`", *r[1:]]) + " |" for r in rules_table())


def test_every_example_is_the_event_the_code_makes() -> None:
    shown = {marker: envelope for marker, envelope in story() if marker is not None}
    assert set(shown) == set(RULES), "every registry event type has an example"
    for marker, envelope in shown.items():
        assert _blocks(f"example {re.escape(marker)}") == [pretty(envelope)], marker


def test_the_rules_table_is_the_code() -> None:
    assert rules_markdown() in DOC.read_text(encoding="utf-8")


def test_the_documented_opening_opens_the_documented_commitment() -> None:
    documented = opening("Acme Semiconductor", MAKER, "TW")
    assert _blocks("kyc-opening") == [documented.model_dump_json(indent=2)]
    kyc = next(e for m, e in story() if m == "actor.kyc_recorded")
    check_opening(ActorKycRecorded.model_validate(kyc.payload["payload"]), documented)


def test_the_story_is_accepted_and_replays(tmp_path: Path) -> None:
    world = World(sqlite_url(tmp_path, "story.db"))
    try:
        for _, envelope in story():
            world.now = envelope.payload["time"]
            world.submit(envelope)
        assert world.chip("ACME-H1-000001").state == "destroyed"
        assert world.chip("ACME-H1-000002").state == "lost"
        assert world.replay_and_compare(sqlite_url(tmp_path, "replayed.db")).equal
    finally:
        world.close()
