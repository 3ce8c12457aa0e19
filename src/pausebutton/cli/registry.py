"""`pausebutton actor|facility|chip|transfer|export|registry|classify`: the chip registry.

Each event command signs an event with ``--key`` (and any ``--cosign`` keys) and submits
it through the intake with the registry projector, or writes it to ``--out`` for another
party to co-sign (`registry cosign`, `transfer accept`) and submit (`registry submit`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pausebutton.cli.common import DEFAULT_DB, DEFAULT_ORIGIN, DbOption, OriginOption, console
from pausebutton.cli.common import reporting_errors as errors
from pausebutton.crypto import Envelope, VerifyKey, load_signing_key, parse_envelope
from pausebutton.errors import FormatError, StoreError
from pausebutton.governance.policy import parse_policy
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry import client, service
from pausebutton.registry.actors import KycOpening, KycRecord
from pausebutton.registry.compliance import RegistryRegulation, regulation_from_policy
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.records import (
    ActorRecord,
    ChipRecord,
    FacilityRecord,
    LicenceRecord,
    Record,
)
from pausebutton.registry.registrar import Registrar, reveal_opening, verify_opening
from pausebutton.registry.replay import digest
from pausebutton.regulation import ChipSpec, spec_by_name
from pausebutton.regulation import classify as classify_spec

actor_app = typer.Typer(help="Actors and their KYC records.", no_args_is_help=True)
facility_app = typer.Typer(help="Facilities (data centres).", no_args_is_help=True)
chip_app = typer.Typer(help="Chips: manufacture, custody, inspection.", no_args_is_help=True)
transfer_app = typer.Typer(help="Sell a chip: offer, then accept.", no_args_is_help=True)
export_app = typer.Typer(help="Export licences and exports.", no_args_is_help=True)
registry_app = typer.Typer(help="Submit, co-sign, replay, compare.", no_args_is_help=True)

Db = DbOption
Origin = OriginOption
Key = Annotated[Path, typer.Option("--key", help="The submitting actor's key file.")]
Cosign = Annotated[list[Path] | None, typer.Option("--cosign", help="A co-signer's key file.")]
Out = Annotated[Path | None, typer.Option("--out", help="Write the event here, unsubmitted.")]
Req = Annotated[str, typer.Option()]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="PAUSEBUTTON_POLICY",
        help="Policy envelope (thresholds, caps, jurisdictions); read, not verified.",
    ),
]
Registrars = Annotated[
    list[Path] | None,
    typer.Option("--registrar", envvar="PAUSEBUTTON_REGISTRARS", help="A registrar's .pub file."),
]


def install(app: typer.Typer) -> None:
    """Add the registry's commands to the `pausebutton` app."""
    for name, sub in [
        ("actor", actor_app),
        ("facility", facility_app),
        ("chip", chip_app),
        ("transfer", transfer_app),
        ("export", export_app),
        ("registry", registry_app),
    ]:
        app.add_typer(sub, name=name)
    app.command("classify")(classify)


def _open(db: str, origin: str) -> TransparencyLog:
    return TransparencyLog.open(db, origin=origin)


def _submit(
    events: list[Envelope],
    out: Path | None,
    db: str,
    origin: str,
    policy: Path | None,
    anchors: list[ActorKey] | None = None,
) -> list[int]:
    if out is not None:
        out.write_bytes(events[0].to_bytes())
        console.print(f"wrote {events[0].payload['type']} event to {out}")
        return []
    regulation = RegistryRegulation()
    if policy is not None:
        regulation = regulation_from_policy(parse_policy(parse_envelope(policy.read_bytes())))
    log = _open(db, origin)
    try:
        indices = service.open_intake(log, anchors or [], regulation).submit_batch(events)
    finally:
        log.close()
    for event, index in zip(events, indices, strict=True):
        console.print(f"appended {event.payload['type']} at index {index}")
    return indices


def _event(
    event_type: str,
    key: Path,
    cosign: list[Path] | None,
    out: Path | None,
    db: str,
    origin: str,
    policy: Path | None = None,
    **fields: Any,
) -> None:
    cosigners = [load_signing_key(p) for p in cosign or []]
    fields = {k: v for k, v in fields.items() if v is not None}
    event = client.event(event_type, load_signing_key(key), cosigners=cosigners, **fields)
    _submit([event], out, db, origin, policy)


def _show(db: str, origin: str, record_type: type[Record], key: str) -> Record:
    log = _open(db, origin)
    try:
        record = service.get(log.engine, record_type, key)
    finally:
        log.close()
    table = Table(show_header=False, box=None)
    for name in record.__dataclass_fields__:
        table.add_row(name, str(getattr(record, name)))
    console.print(table)
    return record


def _list(
    db: str, origin: str, record_type: type[Record], role: str | None = None, **where: str | None
) -> None:
    log = _open(db, origin)
    try:
        records = service.find(log.engine, record_type, **where)
    finally:
        log.close()
    records = [r for r in records if role is None or role in getattr(r, "roles", ())]
    for r in records:
        console.print("  ".join(str(getattr(r, f)) for f in list(r.__dataclass_fields__)[:6]))
    console.print(f"{len(records)} {record_type.TABLE.removeprefix('registry_')}")


# -- actors and facilities ---------------------------------------------------------------


def _registrar(db: str, origin: str, key: Path) -> Registrar:
    signer = load_signing_key(key)
    anchor = ActorKey(signer.public, frozenset({"registrar"}))
    return Registrar(service.open_intake(_open(db, origin), [anchor], RegistryRegulation()), signer)


def _kyc(path: Path, key_id: str) -> KycRecord:
    return KycRecord.model_validate({"key_id": key_id, **json.loads(path.read_text())})


@actor_app.command("register")
def actor_register(
    public: Path,
    name: Req,
    role: Annotated[list[str], typer.Option()],
    kyc: Annotated[Path, typer.Option(help="KYC record JSON.")],
    registrar_key: Annotated[Path, typer.Option()],
    status: str = "verified",
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """Register the key in PUBLIC with its roles and KYC record (the opening stays private)."""
    with errors():
        key = VerifyKey.from_base64(public.read_text().strip())
        registrar = _registrar(db, origin, registrar_key)
        try:
            at = registrar.register(key, name, role, _kyc(kyc, key.key_id), status)  # type: ignore[arg-type]
        finally:
            registrar.intake.log.close()
        console.print(f"registered {key.key_id} at index {at[0]}, its KYC record at {at[1]}")


@actor_app.command("kyc")
def actor_kyc(
    key_id: str,
    kyc: Annotated[Path, typer.Option()],
    registrar_key: Annotated[Path, typer.Option()],
    status: str = "verified",
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """Publish a new KYC commitment and status for an actor (e.g. suspend it)."""
    with errors():
        registrar = _registrar(db, origin, registrar_key)
        try:
            index = registrar.record_kyc(_kyc(kyc, key_id), status)  # type: ignore[arg-type]
        finally:
            registrar.intake.log.close()
        console.print(f"KYC record of {key_id} at index {index}")


@actor_app.command("show")
def actor_show(key_id: str, db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """Show an actor."""
    with errors():
        _show(db, origin, ActorRecord, key_id)


@actor_app.command("list")
def actor_list(
    role: str | None = None, db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN
) -> None:
    """List actors."""
    with errors():
        _list(db, origin, ActorRecord, role)


@actor_app.command("reveal")
def actor_reveal(
    key_id: str,
    out: Annotated[Path, typer.Option()],
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """Write the registrar's opening of an actor's KYC commitment, for a verifier."""
    with errors():
        log = _open(db, origin)
        try:
            out.write_text(reveal_opening(log.engine, key_id).model_dump_json(indent=2))
        finally:
            log.close()
        console.print(f"wrote the opening to {out}")


@actor_app.command("verify-opening")
def actor_verify_opening(
    opening: Path, db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN
) -> None:
    """Check that OPENING opens its actor's KYC commitment in the registry."""
    with errors():
        log = _open(db, origin)
        try:
            parsed = KycOpening.model_validate_json(opening.read_text())
            actor = verify_opening(log.engine, parsed)
        finally:
            log.close()
        console.print(f"OK opening of {actor.key_id} ({actor.legal_name}, {actor.jurisdiction})")


@facility_app.command("register")
def facility_register(
    facility: str,
    key: Key,
    name: Req,
    jurisdiction: Req,
    latitude: Annotated[float, typer.Option()],
    longitude: Annotated[float, typer.Option()],
    out: Out = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Register a facility operated by KEY's actor."""
    with errors():
        _event(
            "facility.registered",
            key,
            None,
            out,
            db,
            origin,
            policy,
            facility=facility,
            name=name,
            jurisdiction=jurisdiction,
            latitude=latitude,
            longitude=longitude,
        )


@facility_app.command("show")
def facility_show(facility: str, db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """Show a facility."""
    with errors():
        _show(db, origin, FacilityRecord, facility)


@facility_app.command("list")
def facility_list(db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """List facilities."""
    with errors():
        _list(db, origin, FacilityRecord)


# -- chips -------------------------------------------------------------------------------


def _spec(spec: Path | None, name: str | None) -> ChipSpec:
    if (spec is None) == (name is None):
        raise FormatError("give exactly one of a spec file and --name/--spec-name")
    if name is not None:
        return spec_by_name(name)
    assert spec is not None
    return ChipSpec.from_dict(json.loads(spec.read_text()))


@chip_app.command("manufacture")
def chip_manufacture(
    serial: str,
    key: Key,
    model: Req,
    jurisdiction: Req,
    device_key: Annotated[Path, typer.Option(help="The chip's Ed25519 .pub file.")],
    x25519_key: Annotated[str, typer.Option(help="Its X25519 key, base64.")],
    die: Annotated[list[str], typer.Option(help="A logic die's serial.")],
    hbm: Annotated[list[str] | None, typer.Option(help="An HBM stack's serial.")] = None,
    spec: Annotated[Path | None, typer.Option(help="Chip spec JSON.")] = None,
    spec_name: Annotated[str | None, typer.Option(help="A shipped accelerator.")] = None,
    out: Out = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Register a chip at manufacture, endorsing its device keys."""
    with errors():
        chip_spec = {k: v for k, v in _spec(spec, spec_name).to_dict().items() if v is not None}
        event = client.manufacture(
            load_signing_key(key),
            serial=serial,
            model=model,
            jurisdiction=jurisdiction,
            spec=chip_spec,
            device_key=VerifyKey.from_base64(device_key.read_text().strip()),
            x25519_key=VerifyKey.from_base64(x25519_key).raw,
            components=[("logic_die", s) for s in die] + [("hbm_stack", s) for s in hbm or []],
        )
        _submit([event], out, db, origin, policy)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@chip_app.command("event")
def chip_event(
    event_type: str,
    serial: str,
    key: Key,
    field: Annotated[list[str] | None, typer.Option("--set", help="NAME=VALUE")] = None,
    cosign: Cosign = None,
    out: Out = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Sign and submit an event about a chip: `chip event chip.installed S1 --set facility=dc`.

    Values are read as JSON where they parse (numbers), else as text.
    """
    with errors():
        fields: dict[str, Any] = {}
        for item in field or []:
            name, sep, value = item.partition("=")
            if not sep:
                raise FormatError(f"--set {item!r}: expected NAME=VALUE")
            fields[name] = _value(value)
        _event(event_type, key, cosign, out, db, origin, policy, serial=serial, **fields)


@chip_app.command("show")
def chip_show(serial: str, db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """Show a chip and its chain of custody."""
    with errors():
        _show(db, origin, ChipRecord, serial)
        log = _open(db, origin)
        try:
            lines = service.history(log.engine, serial)
        finally:
            log.close()
        for h in lines:
            console.print(
                f"{h.idx:>8}  {h.type:<22} {h.state:<10} {h.jurisdiction}  "
                f"holder {h.holder[:16]}…  {h.facility or ''}"
            )


@chip_app.command("list")
def chip_list(
    holder: str | None = None,
    state: str | None = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """List chips."""
    with errors():
        _list(db, origin, ChipRecord, holder=holder, state=state)


# -- transfers and exports ---------------------------------------------------------------


@transfer_app.command("offer")
def transfer_offer(serial: str, key: Key, buyer: Req, out: Annotated[Path, typer.Option()]) -> None:
    """Sign the sale of a chip you hold to BUYER (a key id), for the buyer to accept."""
    with errors():
        _event(
            "chip.transferred",
            key,
            None,
            out,
            DEFAULT_DB,
            DEFAULT_ORIGIN,
            serial=serial,
            buyer=buyer,
        )


@transfer_app.command("accept")
def transfer_accept(
    offer: Path,
    key: Key,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Co-sign an offered transfer or export as its buyer or consignee, and submit it."""
    with errors():
        event = parse_envelope(offer.read_bytes()).with_signature(load_signing_key(key))
        _submit([event], None, db, origin, policy)


@export_app.command("licence")
def export_licence(
    licence: str,
    key: Key,
    exporter: Req,
    consignee: Req,
    destination: Req,
    eccn: Req,
    quantity: Annotated[int, typer.Option()],
    expires: Annotated[int, typer.Option(help="Unix time.")],
    out: Out = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Issue an export licence for QUANTITY chips of an ECCN, as an export authority."""
    with errors():
        _event(
            "export.licensed",
            key,
            None,
            out,
            db,
            origin,
            policy,
            licence=licence,
            exporter=exporter,
            consignee=consignee,
            destination=destination,
            eccn=eccn,
            quantity=quantity,
            expires=expires,
        )


@export_app.command("offer")
def export_offer(
    serial: str,
    key: Key,
    destination: Req,
    consignee: Req,
    out: Annotated[Path, typer.Option()],
    licence: str | None = None,
    reexport: bool = False,
) -> None:
    """Sign the export of a chip you hold, for the consignee to accept (`transfer accept`)."""
    with errors():
        kind = "chip.reexported" if reexport else "chip.exported"
        _event(
            kind,
            key,
            None,
            out,
            DEFAULT_DB,
            DEFAULT_ORIGIN,
            serial=serial,
            destination=destination,
            consignee=consignee,
            licence=licence,
        )


@export_app.command("check")
def export_check(
    serial: str,
    destination: str,
    consignee: str | None = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """Say whether exporting a chip to DESTINATION needs a licence, and why."""
    with errors():
        log = _open(db, origin)
        try:
            found, decision = service.export_check(log.engine, serial, destination, consignee)
        finally:
            log.close()
        needed = "needs a licence" if decision.required else "needs no licence"
        console.print(f"{serial} ({found.eccn}) {needed} to {destination}: {decision.reason}")


@export_app.command("licences")
def export_licences(db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """List export licences."""
    with errors():
        _list(db, origin, LicenceRecord)


# -- the registry and classification -----------------------------------------------------


@registry_app.command("submit")
def registry_submit(
    files: list[Path],
    registrar: Registrars = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
    policy: PolicyFile = None,
) -> None:
    """Submit signed event files as one batch through the registry's intake."""
    with errors():
        anchors = [
            ActorKey(VerifyKey.from_base64(p.read_text().strip()), frozenset({"registrar"}))
            for p in registrar or []
        ]
        _submit([parse_envelope(p.read_bytes()) for p in files], None, db, origin, policy, anchors)


@registry_app.command("cosign")
def registry_cosign(event: Path, key: Key) -> None:
    """Add KEY's signature to a signed event file, in place."""
    with errors():
        signer = load_signing_key(key)
        event.write_bytes(parse_envelope(event.read_bytes()).with_signature(signer).to_bytes())
        console.print(f"added the signature of {signer.key_id}")


@registry_app.command("digest")
def registry_digest(db: Db = DEFAULT_DB, origin: Origin = DEFAULT_ORIGIN) -> None:
    """Print the SHA-256 of the live registry's canonical dump."""
    with errors():
        log = _open(db, origin)
        try:
            with log.engine.connect() as conn:
                console.print(digest(conn))
        finally:
            log.close()


@registry_app.command("replay")
def registry_replay(
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare with the live registry.")
    ] = False,
    into: Annotated[
        str | None, typer.Option(help="Database URL (default: a temporary file).")
    ] = None,
    db: Db = DEFAULT_DB,
    origin: Origin = DEFAULT_ORIGIN,
) -> None:
    """Replay the log from entry 0 into a fresh registry and compare it, byte for byte."""
    with errors(), tempfile.TemporaryDirectory() as tmp:
        if not compare:
            raise FormatError("replay writes a fresh registry to compare with: pass --compare")
        log = _open(db, origin)
        try:
            size, result = service.replay_and_compare(log, into or f"sqlite:///{tmp}/replay.db")
        finally:
            log.close()
        console.print(
            f"replayed {size:,} entries\nlive    {result.live_digest}\n"
            f"replay  {result.replay_digest}"
        )
        if result.first_difference is not None:
            line, live, again = result.first_difference
            raise StoreError(
                f"the registries differ at dump line {line}: live "
                f"{live.decode().strip()} | replay {again.decode().strip()}"
            )
        console.print(f"OK: {result.lines:,} dump lines equal")


def classify(
    spec: Annotated[Path | None, typer.Argument(help="Chip spec JSON file.")] = None,
    name: Annotated[str | None, typer.Option(help="A shipped accelerator, e.g. H100.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Classify an accelerator under ECCN 3A090, from a spec file or by name."""
    with errors():
        chip_spec = _spec(spec, name)
        found = classify_spec(chip_spec)
        if as_json:
            console.print_json(
                data={
                    "name": chip_spec.name,
                    "eccn": found.eccn,
                    "tpp": found.tpp,
                    "performance_density": found.performance_density,
                    "reasons": list(found.reasons),
                }
            )
            return
        console.print(f"{chip_spec.name}: {found.eccn}")
        for reason in found.reasons:
            console.print(f"  {reason}")
