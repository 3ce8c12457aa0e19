"""Actors of the supply chain, their roles, and know-your-customer records with commitments.

A KYC record (`KycRecord`) is what the registrar verified about the holder of a key: the
legal entity, its jurisdiction, its beneficial owners and the identity documents it showed.
Only a *salted commitment* to the record enters the public log, in ``actor.kyc_recorded``
alongside the public fields (entity, legal name, jurisdiction, status)::

    commitment = hex(SHA-256(RFC8785(record) || salt))

where ``RFC8785(record)`` is the canonical JSON of the record (`KycRecord.model_dump` in
JSON mode) and ``salt`` is 32 bytes from the operating system's random source, written as
64 lowercase hex digits in an opening. The salt hides the record (it has too little
entropy to hide itself); the hash binds the registrar to it. The registrar keeps the
openings (record and salt) and reveals one to an authorised verifier, who checks it with
`open_commitment` and `check_opening`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.errors import FormatError, ValidationError

MANUFACTURER = "manufacturer"
DISTRIBUTOR = "distributor"
DATACENTRE = "datacentre"
CLOUD = "cloud"
LAB = "lab"
INSPECTOR = "inspector"
EXPORT_AUTHORITY = "export_authority"
REGISTRAR = "registrar"

CUSTODIANS = frozenset({MANUFACTURER, DISTRIBUTOR, DATACENTRE, CLOUD, LAB})
"""Roles that may hold chips (receive them by transfer or export)."""
OPERATORS = frozenset({DATACENTRE, CLOUD})
"""Roles that may register facilities and have chips installed in them."""
LESSEES = frozenset({CLOUD, LAB})
"""Roles that may lease installed chips."""

SALT_SIZE = 32
KEY_ID = r"^[0-9a-f]{64}$"
HEX_DIGEST = r"^[0-9a-f]{64}$"
ENTITY = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
JURISDICTION = r"^[A-Z]{2}$"
KycStatus = Literal["pending", "verified", "rejected", "suspended"]

Text128 = Annotated[str, Field(min_length=1, max_length=128)]
Text256 = Annotated[str, Field(min_length=1, max_length=256)]


class CommitmentError(ValidationError):
    """A KYC opening does not open the commitment in the log (or does not match it)."""


def _strict() -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", strict=True)


class IdentityDocument(BaseModel):
    """One identity document the registrar examined (kept private, committed to)."""

    model_config = _strict()

    kind: Text128 = Field(description="e.g. certificate_of_incorporation, passport")
    issuer: Text128 = Field(description="the authority that issued it")
    number: Text128 = Field(description="its number or reference")
    sha256: str | None = Field(
        default=None, pattern=HEX_DIGEST, description="SHA-256 of the scanned document, hex"
    )


class KycRecord(BaseModel):
    """What the registrar verified about the holder of a key (kept private, committed to)."""

    model_config = _strict()

    key_id: str = Field(pattern=KEY_ID, description="the actor key the record is about")
    entity: str = Field(pattern=ENTITY, description="the legal entity's registry identifier")
    legal_name: Text256
    jurisdiction: str = Field(pattern=JURISDICTION, description="where the entity is registered")
    beneficial_owners: list[Text256] = Field(min_length=1, max_length=64)
    documents: list[IdentityDocument] = Field(min_length=1, max_length=64)


class ActorKycRecorded(BaseModel):
    """Payload of ``actor.kyc_recorded``: an actor's public KYC fields and the commitment."""

    model_config = _strict()

    actor: str = Field(pattern=KEY_ID, description="key id of the registered actor")
    entity: str = Field(
        pattern=ENTITY, description="legal entity identifier; production caps count per entity"
    )
    legal_name: Text256
    jurisdiction: str = Field(pattern=JURISDICTION, description="where the entity is registered")
    status: KycStatus
    commitment: str = Field(
        pattern=HEX_DIGEST, description="hex SHA-256(RFC8785(KycRecord) || 32-byte salt)"
    )


class KycOpening(BaseModel):
    """What the registrar keeps and reveals: the record and the salt that open a commitment."""

    model_config = _strict()

    record: KycRecord
    salt: str = Field(pattern=r"^[0-9a-f]{64}$", description="the 32-byte salt, lowercase hex")

    @field_validator("salt")
    @classmethod
    def _length(cls, salt: str) -> str:
        if len(salt) != 2 * SALT_SIZE:
            raise ValueError(f"a salt is {SALT_SIZE} bytes")
        return salt

    @property
    def commitment(self) -> str:
        """The commitment this opening opens."""
        return commit(self.record, bytes.fromhex(self.salt))


def commit(record: KycRecord, salt: bytes) -> str:
    """Return hex SHA-256(RFC8785(record) || salt) for a 32-byte salt."""
    if len(salt) != SALT_SIZE:
        raise FormatError(f"a commitment salt is {SALT_SIZE} bytes, got {len(salt)}")
    return hashlib.sha256(canonical_bytes(record) + salt).hexdigest()


def new_opening(record: KycRecord) -> KycOpening:
    """Draw a fresh random salt for `record` and return the opening."""
    return KycOpening(record=record, salt=secrets.token_bytes(SALT_SIZE).hex())


def open_commitment(commitment: str, record: KycRecord, salt: bytes) -> None:
    """Raise CommitmentError unless `record` and `salt` open `commitment`."""
    if len(salt) != SALT_SIZE:
        raise CommitmentError(f"a commitment salt is {SALT_SIZE} bytes, got {len(salt)}")
    computed = commit(record, salt)
    if not hmac.compare_digest(computed, commitment):
        raise CommitmentError(
            f"KYC record for {record.key_id[:16]}… does not open commitment {commitment[:16]}…: "
            f"SHA-256(RFC8785(record) || salt) is {computed[:16]}…"
        )


def check_opening(public: ActorKycRecorded, opening: KycOpening) -> None:
    """Raise CommitmentError unless `opening` opens `public` and agrees with its fields."""
    open_commitment(public.commitment, opening.record, bytes.fromhex(opening.salt))
    record = opening.record
    for name in ("entity", "legal_name", "jurisdiction"):
        if getattr(record, name) != getattr(public, name):
            raise CommitmentError(
                f"KYC record says {name} {getattr(record, name)!r}, the log says "
                f"{getattr(public, name)!r}"
            )
    if record.key_id != public.actor:
        raise CommitmentError(
            f"KYC record is about key {record.key_id[:16]}…, the log entry about "
            f"{public.actor[:16]}…"
        )
