"""The shipped table of well-known accelerators, with the source of every number.

The table is ``pausebutton/regulation/data/accelerators.json``; its ``about`` field and
`docs/regulation.md` say how the numbers are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast, get_args

from pausebutton.errors import FormatError
from pausebutton.regulation._internal import load_data
from pausebutton.regulation.export import ChipSpec, Eccn

ACCELERATORS_FORMAT = "pausebutton.accelerators/v1"
DATA_FILE = "accelerators.json"


@dataclass(frozen=True)
class Published:
    """A classification a public source states or implies, and the source."""

    eccn: Eccn
    source: str
    basis: str


@dataclass(frozen=True)
class AcceleratorRecord:
    """One row of the table: the spec, where its numbers come from, and what is published."""

    spec: ChipSpec
    vendor: str
    aliases: tuple[str, ...]
    precisions: Mapping[int, str]
    sources: Mapping[str, str]
    published: Published | None
    notes: str


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        raise FormatError(f"{DATA_FILE}: {row.get('name')!r}: {key} must be a non-empty string")
    return value


def _published(row: Mapping[str, Any]) -> Published | None:
    value = row.get("published")
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("eccn") not in get_args(Eccn):
        raise FormatError(f"{DATA_FILE}: {row.get('name')!r}: malformed published classification")
    return Published(cast(Eccn, value["eccn"]), _text(value, "source"), _text(value, "basis"))


def _record(row: object) -> AcceleratorRecord:
    if not isinstance(row, Mapping):
        raise FormatError(f"{DATA_FILE}: every accelerator must be a JSON object")
    spec = ChipSpec.from_dict(
        {key: row[key] for key in ChipSpec.__dataclass_fields__ if key in row}
    )
    sources = row.get("sources")
    if not isinstance(sources, Mapping) or not sources.get("performance"):
        raise FormatError(f"{DATA_FILE}: {spec.name}: needs a source for its performance")
    if spec.die_area_mm2 is not None and not sources.get("die_area"):
        raise FormatError(f"{DATA_FILE}: {spec.name}: needs a source for its die area")
    precisions = {int(bits): str(label) for bits, label in row.get("precisions", {}).items()}
    if set(precisions) != set(spec.dense_tops_by_bits):
        raise FormatError(f"{DATA_FILE}: {spec.name}: label exactly the precisions given")
    return AcceleratorRecord(
        spec=spec,
        vendor=_text(row, "vendor"),
        aliases=tuple(str(alias) for alias in row.get("aliases", ())),
        precisions=precisions,
        sources={str(key): str(value) for key, value in sources.items()},
        published=_published(row),
        notes=str(row.get("notes", "")),
    )


@cache
def _records() -> tuple[AcceleratorRecord, ...]:
    data = load_data(DATA_FILE)
    if not isinstance(data, Mapping) or data.get("format") != ACCELERATORS_FORMAT:
        raise FormatError(f"{DATA_FILE}: not a {ACCELERATORS_FORMAT} file")
    records = tuple(_record(row) for row in data["accelerators"])
    names = [name.casefold() for record in records for name in (record.spec.name, *record.aliases)]
    if len(set(names)) != len(names):
        raise FormatError(f"{DATA_FILE}: a name or alias is used twice")
    return records


def accelerator_records() -> tuple[AcceleratorRecord, ...]:
    """Every row of the shipped table, in file order."""
    return _records()


def load_accelerators() -> dict[str, ChipSpec]:
    """The shipped accelerators' specs, by name."""
    return {record.spec.name: record.spec for record in _records()}


def record_by_name(name: str) -> AcceleratorRecord:
    """Find a row by its name or an alias, ignoring case; FormatError if none matches."""
    wanted = name.strip().casefold()
    for record in _records():
        if wanted in {n.casefold() for n in (record.spec.name, *record.aliases)}:
            return record
    known = ", ".join(record.spec.name for record in _records())
    raise FormatError(f"no accelerator named {name!r} in the shipped table (known: {known})")


def spec_by_name(name: str) -> ChipSpec:
    """The spec of a shipped accelerator, by name or alias, ignoring case."""
    return record_by_name(name).spec
