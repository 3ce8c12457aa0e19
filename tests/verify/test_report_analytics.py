"""The reconciliation as SQL in DuckDB over Parquet answers exactly what the Python code does."""

from __future__ import annotations

from pathlib import Path

from pausebutton.device.governor import Governor
from pausebutton.device.secure_element import MemorySecureElement
from pausebutton.governance.policy import DAY_S
from pausebutton.verify.analytics import Analytics, export_parquet
from pausebutton.verify.detectors import Parameters, detect_chain
from pausebutton.verify.detectors.licences import run_usage
from pausebutton.verify.history import History
from pausebutton.verify.report import compute_series, reporting_series
from tests.device.regime import secrets
from tests.verify.scenarios import Town, clean_town


def troubled_town(path: Path) -> Town:
    """A town with a second run, a move, a rollback, a clone and a chip gone dark."""
    town = clean_town(path, chips=4, days=3)
    extra = town.chip("gpu-050", lessee="lab-b")
    town.run("run-2", [extra], flop=2 * 10**21)
    town.days(4)
    rolled, cloned = town.chips["gpu-001"], town.chips["gpu-002"]
    element = rolled.governor.element
    assert isinstance(element, MemorySecureElement)
    saved = MemorySecureElement(secrets(rolled.serial), element.data)
    clone_element = cloned.governor.element
    assert isinstance(clone_element, MemorySecureElement)
    clone = Governor(clone_element.restart())
    town.move(town.chips["gpu-003"], "dc-de")
    town.days(3)
    rolled.governor, rolled.renew_days = Governor(saved), 10**6
    town.report(rolled)
    town.report(rolled)
    for _ in range(3):
        town.days(1)
        clone.observe(town.regime.view(), town.now, town.now)
        clone.authorize(10**18, now=town.now)
        town.report(cloned, clone)
    town.chips["gpu-000"].reporting = False
    town.days(10)
    return town


def python_side(history: History) -> dict[str, object]:
    """What the Python verifier answers."""
    chain = detect_chain(history, Parameters.from_policy(history.policy))
    return {
        "compute": {s.label: s.points for s in compute_series(history, DAY_S)},
        "reporting": reporting_series(history, DAY_S).points,
        "forks": {
            (f.evidence["device"], f.evidence["sequence"]) for f in chain if f.check == "fork"
        },
        "rollbacks": {
            (f.evidence["device"], f.evidence["sequence"], f.evidence["receipts"][0])  # type: ignore[index]
            for f in chain
            if f.check == "rollback"
        },
        "runs": run_usage(history),
    }


def test_sql_over_parquet_equals_the_python_reconciliation(tmp_path: Path) -> None:
    town = troubled_town(tmp_path)
    history = town.history()
    written = export_parquet(history, tmp_path / "parquet")
    assert sorted(written) == ["custody", "grants", "receipts", "runs", "sightings"]
    sql = Analytics(tmp_path / "parquet")
    try:
        expected = python_side(history)
        assert expected["forks"]
        assert expected["rollbacks"]
        assert sql.compute(DAY_S) == expected["compute"]
        assert sql.reporting(DAY_S) == expected["reporting"]
        assert sql.forks() == expected["forks"]
        assert sql.rollbacks() == expected["rollbacks"]
        assert sql.over_ceiling() == set()
        assert sql.run_usage() == expected["runs"]
        assert set(sql.run_usage()) == {"run-1", "run-2"}
    finally:
        sql.close()
        town.close()
