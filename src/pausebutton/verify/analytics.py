"""The reconciliation as SQL: DuckDB over a Parquet export of a history's receipts and custody.

`export_parquet` writes the facts the reconciliation needs as Parquet files (with DuckDB
itself): ``receipts``, ``custody``, ``grants``, ``runs`` and ``sightings``. `Analytics`
runs the queries over them; each answers what a Python function of the verifier answers
over a `History` (the tests hold them equal), so the same SQL moves to a distributed
engine when one machine is not enough. Counters are DECIMAL(38,0): exact to 10^38
operations (Parquet has no 128-bit integer; HUGEINT would be written as a double).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pausebutton.verify.history import History

COUNTER = "DECIMAL(38,0)"
TABLES: dict[str, str] = {
    "receipts": f"leaf UBIGINT, id VARCHAR, device_key VARCHAR, chip VARCHAR, sequence UBIGINT, "
    f"previous VARCHAR, licence VARCHAR, licence_sequence UBIGINT, ops {COUNTER}, "
    f"licensed_ops {COUNTER}, flops {COUNTER}, int_ops {COUNTER}, bytes_moved {COUNTER}, "
    "state_version UBIGINT, time BIGINT",
    "custody": "leaf UBIGINT, serial VARCHAR, time BIGINT, type VARCHAR, state VARCHAR, "
    "holder VARCHAR, jurisdiction VARCHAR, facility VARCHAR",
    "grants": f"leaf UBIGINT, id VARCHAR, device_key VARCHAR, run_id VARCHAR, sequence UBIGINT, "
    f"counter_base {COUNTER}, ceiling {COUNTER}",
    "runs": f"leaf UBIGINT, run_id VARCHAR, budget {COUNTER}",
    "sightings": "serial VARCHAR, time BIGINT, leaf BIGINT, here BOOLEAN",
}
"""Each Parquet file's columns."""
CHUNK = 100_000


def _rows(history: History, table: str) -> Iterator[tuple[Any, ...]]:
    if table == "receipts":
        for r in history.receipts.values():
            x, c = r.receipt, r.receipt.counters
            chip = history.by_key.get(x.device_key, x.serial)
            yield (r.index, r.id, x.device_key, chip, x.sequence, x.previous, x.licence,
                   x.licence_sequence, c.ops, c.licensed_ops, c.flops, c.int_ops, c.bytes_moved,
                   x.state_version, x.time)  # fmt: skip
    elif table == "custody":
        for lines in history.custody.values():
            for line in lines:
                yield (line.index, line.serial, line.time, line.type, line.state, line.holder,
                       line.jurisdiction, line.facility)  # fmt: skip
    elif table == "grants":
        for g in history.grants.values():
            d = g.licence
            yield (g.index, g.id, d.device_key, d.run_id, d.sequence, d.counter_base, d.ceiling)
    elif table == "runs":
        for run in history.runs.values():
            yield (run.index, run.licence.run_id, run.licence.flop_budget)
    else:
        for serial, sightings in history.presence().items():
            for s in sightings:
                yield (serial, s.time, s.leaf, s.here)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_parquet(history: History, folder: Path) -> dict[str, Path]:
    """Write the history's reconciliation tables to ``folder/<table>.parquet``."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    written: dict[str, Path] = {}
    try:
        for table, columns in TABLES.items():
            con.execute(f"CREATE TABLE {table} ({columns})")
            appender = con.appender(table)
            rows = _rows(history, table)
            while chunk := list(itertools.islice(rows, CHUNK)):
                appender.append_rows(chunk)
            appender.flush()
            path = written[table] = folder / f"{table}.parquet"
            con.execute(f"COPY {table} TO {_quote(path)} (FORMAT parquet)")
    finally:
        con.close()
    return written


# The device's chain order, as `History.chains` sorts it.
_CHAIN = "PARTITION BY device_key ORDER BY sequence, time, id"

COMPUTE = f"""
WITH grown AS (
  SELECT chip, time, ops - lag(ops) OVER ({_CHAIN}) AS grown FROM receipts
), places AS (
  SELECT serial, time, jurisdiction FROM custody
  QUALIFY row_number() OVER (PARTITION BY serial, time ORDER BY leaf DESC) = 1
)
SELECT coalesce(p.jurisdiction, '?') AS jurisdiction, g.time // $bucket * $bucket AS bucket,
       sum(g.grown) AS ops
FROM grown g ASOF LEFT JOIN places p ON g.chip = p.serial AND g.time >= p.time
WHERE g.grown > 0 GROUP BY ALL ORDER BY 1, 2
"""

REPORTING = """
SELECT time // $bucket * $bucket AS bucket, count(DISTINCT serial) FROM sightings
GROUP BY 1 ORDER BY 1
"""

FORKS = """
SELECT device_key, sequence FROM receipts GROUP BY ALL HAVING count(DISTINCT id) > 1
UNION
SELECT r.device_key, r.sequence FROM receipts r
JOIN (SELECT DISTINCT device_key, sequence FROM receipts) b
  ON b.device_key = r.device_key AND b.sequence = r.sequence - 1
WHERE NOT EXISTS (SELECT 1 FROM receipts p WHERE p.device_key = r.device_key
                  AND p.sequence = r.sequence - 1 AND p.id = r.previous)
"""

ROLLBACKS = """
WITH high AS (
  SELECT device_key, sequence, max(flops) AS flops, max(int_ops) AS int_ops,
         max(bytes_moved) AS bytes_moved, max(licensed_ops) AS licensed_ops,
         max(state_version) AS state_version, max(licence_sequence) AS licence_sequence
  FROM receipts GROUP BY ALL
), running AS (
  SELECT device_key, sequence,
    max(flops) OVER w AS flops, max(int_ops) OVER w AS int_ops,
    max(bytes_moved) OVER w AS bytes_moved, max(licensed_ops) OVER w AS licensed_ops,
    max(state_version) OVER w AS state_version, max(licence_sequence) OVER w AS licence_sequence
  FROM high
  WINDOW w AS (PARTITION BY device_key ORDER BY sequence
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT r.device_key, r.sequence, r.id FROM receipts r JOIN running h USING (device_key, sequence)
WHERE r.flops < h.flops OR r.int_ops < h.int_ops OR r.bytes_moved < h.bytes_moved
   OR r.licensed_ops < h.licensed_ops OR r.state_version <= h.state_version
   OR r.licence_sequence < h.licence_sequence
"""

OVER_CEILING = """
SELECT r.id FROM receipts r JOIN grants g ON g.id = r.licence
WHERE r.licensed_ops > g.ceiling OR r.licensed_ops < g.counter_base
"""

RUN_USAGE = """
WITH spans AS (
  SELECT run_id, device_key, min(counter_base) AS base, max(ceiling) AS top FROM grants
  GROUP BY ALL
), used AS (
  SELECT g.run_id, r.device_key, max(r.licensed_ops) AS high
  FROM receipts r JOIN grants g ON g.id = r.licence AND g.device_key = r.device_key GROUP BY ALL
)
SELECT s.run_id, sum(s.top - s.base), sum(greatest(coalesce(u.high, s.base) - s.base, 0))
FROM spans s LEFT JOIN used u USING (run_id, device_key)
WHERE s.run_id IN (SELECT run_id FROM runs) GROUP BY 1 ORDER BY 1
"""


class Analytics:
    """The reconciliation queries over a folder written by `export_parquet`."""

    def __init__(self, folder: Path) -> None:
        import duckdb

        self.con = duckdb.connect()
        for table in TABLES:
            path = _quote(folder / f"{table}.parquet")
            self.con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({path})")

    def close(self) -> None:
        """Release DuckDB."""
        self.con.close()

    def _all(self, sql: str, params: dict[str, object] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or {}).fetchall()

    def compute(self, bucket_s: int) -> dict[str, list[tuple[int, float]]]:
        """Operations counted per jurisdiction and bucket (as `report.compute_series`)."""
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for where, bucket, ops in self._all(COMPUTE, {"bucket": bucket_s}):
            out[where].append((int(bucket), float(int(ops))))
        return dict(out)

    def reporting(self, bucket_s: int) -> list[tuple[int, float]]:
        """Distinct chips seen per bucket (as `report.reporting_series`)."""
        return [(int(b), float(n)) for b, n in self._all(REPORTING, {"bucket": bucket_s})]

    def forks(self) -> set[tuple[str, int]]:
        """(device key, sequence) of every fork (as the chain detector's ``fork`` findings)."""
        return {(d, int(s)) for d, s in self._all(FORKS)}

    def rollbacks(self) -> set[tuple[str, int, str]]:
        """(device key, sequence, receipt id) of every receipt below what came before it."""
        return {(d, int(s), i) for d, s, i in self._all(ROLLBACKS)}

    def over_ceiling(self) -> set[str]:
        """Ids of receipts whose licensed counter is outside their licence's range."""
        return {i for (i,) in self._all(OVER_CEILING)}

    def run_usage(self) -> dict[str, tuple[int, int]]:
        """Per run: what its device licences commit and what its devices used."""
        return {r: (int(c), int(u)) for r, c, u in self._all(RUN_USAGE)}


def series_points(values: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    """Points as plain sorted pairs (for comparing with `report.Series.points`)."""
    return sorted((int(t), float(v)) for t, v in values)


__all__: Sequence[str] = ("TABLES", "Analytics", "export_parquet", "series_points")
