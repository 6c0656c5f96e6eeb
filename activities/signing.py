"""Ed25519 sealing of signatures and their verification.

A signature row seals every one of its columns (but the seal and the public key) with the
server's private key; one of them is the SHA-256 of every column of the record it signs.
Verifying recomputes the record's SHA-256 from what the database holds now, so any later change
to the signed record, or to the signature row, is detected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel

from store import models
from store.db import SessionFactory


def canonical_json(obj: Any) -> str:
    """One byte-exact text per value: sorted keys, no spaces, UTF-8 kept, dates as str()."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


# Sealing schemes. 1 (signatures made before this one): the record's case, kind, title, data,
# author and time; the signature's own fields but its case. 2: every column a reader is shown,
# derived from the tables, so a column added later is covered without anyone remembering it.
SCHEME = 2
RECORD_SCHEME_1 = ("id", "case_id", "kind", "title", "data", "created_by", "created_at")
SIGNATURE_SCHEME_1 = (
    "id", "record_id", "record_sha256", "signer", "role", "method", "signed_at",
    "evidence_sha256",
)  # fmt: skip


def record_columns() -> tuple[str, ...]:
    """The record columns a seal of scheme 2 covers: all but the digest itself."""
    return tuple(c.name for c in models.Record.__table__.columns if c.name != "sha256")


def signature_columns() -> tuple[str, ...]:
    """The signature columns a seal of scheme 2 covers: all but the seal and its key (the
    key is checked against the trusted one, the seal is what is checked)."""
    skip = ("seal", "public_key")
    return tuple(c.name for c in models.Signature.__table__.columns if c.name not in skip)


def _plain(value: Any) -> Any:
    """A value as it is sealed: times in UTC (what PostgreSQL gives back prints the same)."""
    return _iso(_to_utc(value)) if isinstance(value, datetime) else value


def record_digest(values: Mapping[str, Any], scheme: int = SCHEME) -> str:
    """SHA-256 of the whole record (`values`: column -> value, as stored), so a signature covers
    all of what was signed, not only the data."""
    names = RECORD_SCHEME_1 if scheme == 1 else record_columns()
    sealed = {name: _plain(values.get(name)) for name in names}
    return sha256_hex(sealed if scheme == 1 else {**sealed, "scheme": scheme})


def stored_record_digest(record: models.Record, scheme: int = SCHEME) -> str:
    return record_digest({c: getattr(record, c) for c in record_columns()}, scheme)


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def signature_payload(values: Mapping[str, Any], scheme: int = SCHEME) -> dict[str, Any]:
    """The exact dict that is sealed (`values`: column -> value); sealing and verifying both
    build it here."""
    names = SIGNATURE_SCHEME_1 if scheme == 1 else signature_columns()
    return {name: _plain(values.get(name)) for name in names}


def _to_utc(dt: datetime) -> datetime:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


class Sealer:
    """Holds the server's Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_b64: str = base64.b64encode(raw).decode("ascii")

    @classmethod
    def generate(cls) -> Sealer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> Sealer:
        """Load the PEM (PKCS8) key at `path`, creating it (mode 0600) when missing."""
        path = Path(path)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} does not hold an Ed25519 private key")
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: if another process created it meanwhile, use that key rather than overwrite it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    def seal(self, payload: dict[str, Any]) -> str:
        """Base64 Ed25519 signature over canonical_json(payload)."""
        return base64.b64encode(self._key.sign(canonical_json(payload).encode("utf-8"))).decode(
            "ascii"
        )


def verify_seal(public_key_b64: str, payload: dict[str, Any], seal_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(seal_b64, validate=True), canonical_json(payload).encode())
    except (InvalidSignature, ValueError):
        return False
    return True


class VerifyResult(BaseModel):
    ok: bool
    reason: str
    signature_id: str
    record_id: str | None = None
    signer: str | None = None
    role: str | None = None
    method: str | None = None
    signed_at: datetime | None = None
    record_sha256_signed: str | None = None
    record_sha256_now: str | None = None


async def verify_signature(
    session_factory: SessionFactory, signature_id: str, trusted_public_key_b64: str
) -> VerifyResult:
    """Check a stored signature: trusted key, intact seal over every column of the signature,
    and the record unchanged since (every column, its stored digest included)."""
    async with session_factory() as session:
        sig = await session.get(models.Signature, signature_id)
        if sig is None:
            return VerifyResult(ok=False, reason="unknown signature", signature_id=signature_id)
        record = await session.get(models.Record, sig.record_id)
    scheme = sig.scheme if sig.scheme in (1, SCHEME) else SCHEME
    result = VerifyResult(
        ok=False,
        reason="",
        signature_id=sig.id,
        record_id=sig.record_id,
        signer=sig.signer,
        role=sig.role,
        method=sig.method,
        signed_at=sig.signed_at,
        record_sha256_signed=sig.record_sha256,
        record_sha256_now=stored_record_digest(record, scheme) if record is not None else None,
    )
    if sig.public_key != trusted_public_key_b64:
        result.reason = "signed by a key this server does not trust"
        return result
    payload = signature_payload({c: getattr(sig, c) for c in signature_columns()}, scheme)
    if not verify_seal(sig.public_key, payload, sig.seal):
        result.reason = "seal does not match (the signature row was altered)"
        return result
    if record is None:
        result.reason = "the signed record no longer exists"
        return result
    if result.record_sha256_now != sig.record_sha256:
        result.reason = "record changed since it was signed"
        return result
    if record.sha256 not in (stored_record_digest(record, 1), stored_record_digest(record)):
        result.reason = "record changed since it was signed (its stored digest was altered)"
        return result
    result.ok = True
    result.reason = "signature valid: sealed by this server and the record is unchanged"
    if scheme == 1:
        result.reason += (
            " (sealed before every column was covered: case, kind, title, data, author, time)"
        )
    return result
