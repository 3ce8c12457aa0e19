"""Reading ahead: fetch every row a batch of registry events will look at, a query per table.

Before a batch is validated, its items are skimmed (JSON only, nothing trusted) for the
keys their events name: actors, chips, components, device keys, facilities, licences.
`read_ahead` loads them into the batch's `DatabaseView` with one query per table, so
validating the batch then costs no round trips to the database for them. What the skim
misses is simply read when needed; what it reads in vain costs nothing but the query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pausebutton.crypto.envelope import Envelope
from pausebutton.registry.events import SignedEvent
from pausebutton.registry.records import (
    ActorRecord,
    ChipRecord,
    ComponentRecord,
    FacilityRecord,
    LicenceRecord,
)
from pausebutton.registry.rules import RULES
from pausebutton.registry.storage import DatabaseView

PARTIES = ("buyer", "consignee", "operator", "lessee", "inspector", "witness", "exporter")


def _body(item: object) -> dict[str, Any] | None:
    if isinstance(item, SignedEvent):
        return item.body.model_dump()
    if isinstance(item, Envelope):
        return item.payload
    if isinstance(item, bytes | str):
        try:
            value = json.loads(item)
        except ValueError:
            return None
        body = value.get("payload") if isinstance(value, dict) else None
        return body if isinstance(body, dict) else None
    return None


def _key_id(public_key: object) -> str | None:
    if not isinstance(public_key, str):
        return None
    try:
        return hashlib.sha256(base64.b64decode(public_key, validate=True)).hexdigest()
    except (binascii.Error, ValueError):
        return None


def read_ahead(view: DatabaseView, items: Sequence[object]) -> None:
    """Load the rows the registry events among `items` name into `view`'s cache."""
    keys: dict[type[Any], set[str]] = {
        t: set() for t in (ActorRecord, ChipRecord, ComponentRecord, FacilityRecord, LicenceRecord)
    }
    device: dict[str, set[str]] = {"device_key": set(), "x25519_key": set()}
    for item in items:
        body = _body(item)
        payload = body.get("payload") if body is not None else None
        if body is None or body.get("type") not in RULES or not isinstance(payload, dict):
            continue
        names = [body.get("actor"), payload.get("actor"), *(payload.get(p) for p in PARTIES)]
        keys[ActorRecord].update(n for n in names if isinstance(n, str))
        for record_type, field in (
            (ChipRecord, "serial"),
            (FacilityRecord, "facility"),
            (LicenceRecord, "licence"),
        ):
            if isinstance(payload.get(field), str):
                keys[record_type].add(payload[field])
        for part in payload.get("components") or ():
            if isinstance(part, dict) and isinstance(part.get("serial"), str):
                keys[ComponentRecord].add(part["serial"])
        chip_keys = payload.get("device")
        if isinstance(chip_keys, dict):
            signing = _key_id(chip_keys.get("signing_key"))
            if signing is not None:
                device["device_key"].add(signing)
            if isinstance(chip_keys.get("x25519_key"), str):
                device["x25519_key"].add(chip_keys["x25519_key"])
    for record_type, wanted in keys.items():
        if wanted:
            view.get_many(record_type, sorted(wanted))
    for column, values in device.items():
        if values:
            view.read_device_keys(column, sorted(values))
