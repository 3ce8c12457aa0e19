"""Country groups, and whether moving a 3A090/4A090 item into a country needs a licence.

Group membership is data (``pausebutton/regulation/data/jurisdictions.json``, from 15 CFR
part 740 supplement no. 1, each group with its source and the file's date); which groups
need a licence is policy (`ExportControlParameters`, defaults from 15 CFR 742.6(a)(6)(iii)
as set by 88 FR 73458).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from pausebutton.errors import FormatError
from pausebutton.regulation._internal import load_data
from pausebutton.regulation.parameters import DEFAULT_EXPORT_CONTROL, ExportControlParameters

JURISDICTIONS_FORMAT = "pausebutton.jurisdictions/v1"
DATA_FILE = "jurisdictions.json"

LicensableEccn = Literal["3A090.a", "3A090.b", "4A090.a", "4A090.b"]
LICENSABLE_ECCNS: tuple[str, ...] = ("3A090.a", "3A090.b", "4A090.a", "4A090.b")
ECCNS: tuple[str, ...] = (*LICENSABLE_ECCNS, "not controlled", "undetermined")
"""The classifications `licence_required` accepts (from `classify` or `computer_eccn`)."""

STATUSES = ("in force", "rescinded")
_CODE = re.compile(r"[A-Z]{2}")
RULE = "15 CFR 742.6(a)(6)(iii), 88 FR 73458"


@dataclass(frozen=True)
class CountryGroup:
    """One country group: its members, where they come from, and whether it is in force."""

    name: str
    title: str
    status: str
    source: str
    members: frozenset[str]
    note: str = ""


@dataclass(frozen=True)
class JurisdictionTable:
    """The shipped country groups, as of `as_of`."""

    as_of: str
    countries: frozenset[str]
    aliases: Mapping[str, str]
    groups: Mapping[str, CountryGroup]

    def resolve(self, code: object) -> str:
        """Check an ISO 3166-1 alpha-2 code and map aliases (HK is treated as CN)."""
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise FormatError(f"{code!r} is not an ISO 3166-1 alpha-2 code (two capital letters)")
        if code not in self.countries:
            raise FormatError(f"{code!r} is not an assigned ISO 3166-1 alpha-2 country code")
        return self.aliases.get(code, code)

    def groups_of(self, code: str) -> tuple[str, ...]:
        """The groups the country (after aliases) belongs to, sorted."""
        country = self.resolve(code)
        return tuple(sorted(name for name, g in self.groups.items() if country in g.members))

    def group(self, name: str) -> CountryGroup:
        """The named group; FormatError if the table has none of that name."""
        try:
            return self.groups[name]
        except KeyError:
            raise FormatError(f"no country group {name!r} in {DATA_FILE}") from None


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise FormatError(f"{DATA_FILE}: {what} must be a non-empty string")
    return value


def _codes(value: object, countries: frozenset[str], what: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise FormatError(f"{DATA_FILE}: {what} must be a list of country codes")
    unknown = set(value) - countries
    if unknown or len(set(value)) != len(value):
        raise FormatError(f"{DATA_FILE}: {what}: unknown or repeated codes {sorted(unknown)}")
    return frozenset(value)


def _group(name: str, raw: Mapping[str, Any], members: frozenset[str]) -> CountryGroup:
    status = raw.get("status")
    if status not in STATUSES:
        raise FormatError(f"{DATA_FILE}: group {name}: status must be one of {STATUSES}")
    return CountryGroup(
        name=name,
        title=_str(raw.get("name"), f"group {name}: name"),
        status=status,
        source=_str(raw.get("source"), f"group {name}: source"),
        members=members,
        note=str(raw.get("note", "")),
    )


def _explicit(groups: Mapping[str, CountryGroup], other: str, name: str) -> frozenset[str]:
    if other not in groups:
        raise FormatError(f"{DATA_FILE}: {name}: complement_of names no listed group {other!r}")
    return groups[other].members


def _parse(data: Any) -> JurisdictionTable:
    if not isinstance(data, Mapping) or data.get("format") != JURISDICTIONS_FORMAT:
        raise FormatError(f"{DATA_FILE}: not a {JURISDICTIONS_FORMAT} file")
    listed = data.get("countries")
    if not isinstance(listed, list) or not all(_CODE.fullmatch(str(code)) for code in listed):
        raise FormatError(f"{DATA_FILE}: countries must be a list of two-letter codes")
    countries = _codes(listed, frozenset(listed), "countries")
    aliases: dict[str, str] = {}
    for code, alias in dict(data.get("aliases", {})).items():
        target = alias.get("same_as") if isinstance(alias, Mapping) else None
        if code not in countries or target not in countries:
            raise FormatError(f"{DATA_FILE}: alias {code!r} -> {target!r}: unknown code")
        _str(alias.get("source"), f"alias {code}: source")
        aliases[code] = target
    raw_groups: Mapping[str, Any] = data.get("groups", {})
    groups: dict[str, CountryGroup] = {}
    for name, raw in raw_groups.items():
        if "members" in raw:
            groups[name] = _group(name, raw, _codes(raw["members"], countries, name))
    for name, raw in raw_groups.items():
        if "members" not in raw:
            others = [_explicit(groups, other, name) for other in raw.get("complement_of", [])]
            excluded = _codes(raw.get("excluding", []), countries, f"{name}: excluding")
            rest = countries - excluded - set(aliases) - frozenset().union(*others)
            groups[name] = _group(name, raw, frozenset(rest))
    for name, group in groups.items():
        if group.members & set(aliases):
            raise FormatError(f"{DATA_FILE}: group {name} lists an alias; list its target")
    return JurisdictionTable(
        as_of=_str(data.get("as_of"), "as_of"),
        countries=countries,
        aliases=MappingProxyType(aliases),
        groups=MappingProxyType(groups),
    )


@cache
def load_jurisdictions() -> JurisdictionTable:
    """The shipped country-group table (read once)."""
    return _parse(load_data(DATA_FILE))


def groups_of(code: str) -> tuple[str, ...]:
    """The country groups of an ISO 3166-1 alpha-2 code in the shipped table, sorted."""
    return load_jurisdictions().groups_of(code)


@dataclass(frozen=True)
class LicenceDecision:
    """Whether a transfer needs a licence, and why, in words."""

    required: bool
    reason: str
    eccn: str
    destination: str
    groups: tuple[str, ...]
    """The destination's country groups (after aliases)."""


def _named(table: JurisdictionTable, names: tuple[str, ...]) -> None:
    for name in names:
        table.group(name)


def _join(names: tuple[str, ...] | set[str]) -> str:
    return ", ".join(sorted(names))


def licence_required(
    eccn: str,
    destination: str,
    params: ExportControlParameters = DEFAULT_EXPORT_CONTROL,
    *,
    headquarters: str | None = None,
) -> LicenceDecision:
    """Decide whether exporting an item of `eccn` to `destination` needs a US licence.

    `headquarters`, where known, is the country of the consignee's (ultimate parent's)
    headquarters. An undetermined classification counts as 3A090.a, the strictest it may
    be. Only the advanced-computing and embargo rules are checked: other ECCNs, end-use and
    end-user controls (Entity List, 15 CFR 744) are outside this function.
    """
    if eccn not in ECCNS:
        raise FormatError(f"unknown classification {eccn!r}; expected one of {ECCNS}")
    table = load_jurisdictions()
    country = table.resolve(destination)
    _named(table, params.licence_groups + params.licence_exempt_groups)
    _named(table, params.headquarters_groups + params.embargo_groups)
    groups = table.groups_of(country)
    where = destination if country == destination else f"{destination} (treated as {country})"

    def decide(required: bool, reason: str) -> LicenceDecision:
        return LicenceDecision(required, reason, eccn, destination, groups)

    embargo = set(groups) & set(params.embargo_groups)
    if embargo:
        return decide(
            True,
            f"{where} is under comprehensive embargo ({_join(embargo)}): a licence is needed "
            "for nearly every item subject to the EAR, whatever its classification "
            "(15 CFR part 746)",
        )
    if eccn == "not controlled":
        return decide(
            False,
            "not an item of 3A090 or 4A090: no advanced-computing licence requirement (other "
            "ECCNs and end-use and end-user controls are not checked here)",
        )
    item = "undetermined, so treated as 3A090.a" if eccn == "undetermined" else eccn
    if headquarters is not None:
        base = table.resolve(headquarters)
        base_groups = set(table.groups_of(base)) & set(params.headquarters_groups)
        if base_groups or base in params.headquarters_countries:
            listed = f" ({_join(base_groups)})" if base_groups else ""
            return decide(
                True,
                f"{item}: the consignee is headquartered in {headquarters}{listed}, and items "
                f"for such consignees need a licence wherever they are ({RULE}; "
                "15 CFR 744.23(a)(3) until January 2025)",
            )
    hits = set(groups) & set(params.licence_groups)
    exempt = set(groups) & set(params.licence_exempt_groups)
    if hits and not exempt:
        return decide(
            True,
            f"{item}: {where} is in {_join(hits)}, and in none of "
            f"{_join(set(params.licence_exempt_groups))} ({RULE})",
        )
    if hits:
        return decide(
            False,
            f"{item}: {where} is in {_join(hits)}, but also in {_join(exempt)}, which the "
            f"rule exempts ({RULE})",
        )
    return decide(
        False, f"{item}: {where} is in none of {_join(set(params.licence_groups))} ({RULE})"
    )
