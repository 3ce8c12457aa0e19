"""TUF keys and root metadata from the governance root: the same governors sign both.

TUF's ``root`` role has exactly the keys and threshold of the governance root's ``root``
role, under the same key ids (hex SHA-256 of the raw Ed25519 key; TUF lets a repository
choose its key ids). The ``targets``, ``snapshot`` and ``timestamp`` roles hold the one
online key of the publication service. Governors sign TUF root metadata offline with their
ordinary key files through `KeySigner`, a securesystemslib `Signer` over our `SigningKey`.
A TUF signature covers canonical JSON starting ``{"_type":"root"``, a governance one the
bytes ``pausebutton-envelope-v1\\n...``: neither can ever be read as the other.
"""

from __future__ import annotations

from datetime import UTC, datetime

# securesystemslib and tuf re-export these public names without __all__, which mypy's
# strict mode reads as private; the ignores say only that.
from securesystemslib.signer import (  # type: ignore[attr-defined]
    Key,
    SecretsHandler,
    Signature,
    Signer,
    SSlibKey,
)
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata
from tuf.api.metadata import Root as TufRoot  # type: ignore[attr-defined]

from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.errors import SignatureError, ValidationError
from pausebutton.governance.root import Root

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
"""The TUF roles the publication service's online key signs."""


def tuf_key(key: VerifyKey) -> SSlibKey:
    """Return `key` as a TUF Ed25519 key under our key id."""
    return SSlibKey(key.key_id, "ed25519", "ed25519", {"public": key.raw.hex()})


class KeySigner(Signer):
    """A securesystemslib signer over a pausebutton Ed25519 `SigningKey`."""

    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._public = tuf_key(key.public)

    @property
    def public_key(self) -> Key:
        """The TUF form of the key's public half."""
        return self._public

    def sign(self, payload: bytes) -> Signature:
        """Sign `payload` (TUF's canonical JSON of a ``signed`` object)."""
        return Signature(self._key.key_id, self._key.sign(payload).hex())

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> Signer:
        """Not supported: a KeySigner is made from a loaded key file, never from a URI."""
        raise ValueError("KeySigner is made from a SigningKey, not from a private key URI")


def to_datetime(unix: int) -> datetime:
    """Return Unix seconds as an aware UTC datetime (TUF's expiry type)."""
    return datetime.fromtimestamp(unix, UTC)


def make_tuf_root(root: Root, online: VerifyKey, *, version: int = 1) -> Metadata[TufRoot]:
    """Build unsigned TUF root metadata for `root`'s root role and the online key."""
    signed = TufRoot(version=version, expires=to_datetime(root.expires), consistent_snapshot=True)
    for key in root.role_keys("root").values():
        signed.add_key(tuf_key(key), "root")
    signed.roles["root"].threshold = root.roles["root"].threshold
    for role in ONLINE_ROLES:
        signed.add_key(tuf_key(online), role)
    return Metadata(signed)


def sign_tuf_root(
    metadata: Metadata[TufRoot], key: SigningKey, previous: Metadata[TufRoot] | None = None
) -> None:
    """Add `key`'s signature to TUF root metadata (a governor, offline).

    The key must be a root key of `metadata`, or of the `previous` version it replaces
    (on rotation, the outgoing governors sign the new root too).
    """
    allowed = set(metadata.signed.roles["root"].keyids)
    if previous is not None:
        allowed |= set(previous.signed.roles["root"].keyids)
    if key.key_id not in allowed:
        raise SignatureError(f"key {key.key_id[:16]}… is not a root key of this TUF root")
    metadata.sign(KeySigner(key), append=True)


def verify_tuf_root(metadata: Metadata[TufRoot], root: Root) -> None:
    """Check TUF root metadata is self-signed to threshold and mirrors `root`'s root role."""
    signed = metadata.signed
    spec = root.roles["root"]
    if set(signed.roles["root"].keyids) != set(spec.keyids):
        raise ValidationError("the TUF root's root keys are not the governance root's root keys")
    if signed.roles["root"].threshold != spec.threshold:
        raise ValidationError(
            f"the TUF root's threshold {signed.roles['root'].threshold} is not the governance "
            f"root's {spec.threshold}"
        )
    for keyid in spec.keyids:
        if signed.keys[keyid] != tuf_key(root.role_keys("root")[keyid]):
            raise ValidationError(f"the TUF root holds another key under id {keyid[:16]}…")
    if not signed.consistent_snapshot:
        raise ValidationError("the TUF root must use consistent snapshots")
    try:
        signed.verify_delegate("root", metadata.signed_bytes, metadata.signatures)
    except UnsignedMetadataError as exc:
        raise SignatureError(f"TUF root v{signed.version}: {exc}") from None


def online_keyid(metadata: Metadata[TufRoot]) -> str:
    """Return the one key id of the online roles, refusing a root that splits them."""
    ids = {tuple(metadata.signed.roles[role].keyids) for role in ONLINE_ROLES}
    if len(ids) != 1 or len(next(iter(ids))) != 1:
        raise ValidationError("the TUF root must give targets, snapshot, timestamp one key")
    return next(iter(ids))[0]
