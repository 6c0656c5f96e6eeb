"""Ed25519 sealing of signatures and their verification.

A signature row seals {id, record_id, record_sha256, signer, role, method, signed_at,
evidence_sha256} with the server's private key. Verifying recomputes the record's SHA-256 from
what the database holds now, so any later change to the signed record is detected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
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


def record_digest(
    *,
    id: str,
    case_id: str,
    kind: str,
    title: str,
    data: dict[str, Any],
    created_by: str | None,
    created_at: datetime,
) -> str:
    """SHA-256 of the whole record — its case, kind, title, data, author and time — so a
    signature covers all of what was signed, not only the data."""
    return sha256_hex(
        {
            "id": id,
            "case_id": case_id,
            "kind": kind,
            "title": title,
            "data": data,
            "created_by": created_by,
            "created_at": _iso(_to_utc(created_at)),
        }
    )


def stored_record_digest(record: models.Record) -> str:
    return record_digest(
        id=record.id,
        case_id=record.case_id,
        kind=record.kind,
        title=record.title,
        data=record.data,
        created_by=record.created_by,
        created_at=record.created_at,
    )


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def signature_payload(
    *,
    id: str,
    record_id: str,
    record_sha256: str,
    signer: str,
    role: str,
    method: str,
    signed_at: datetime,
    evidence_sha256: str | None,
) -> dict[str, Any]:
    """The exact dict that is sealed; both sealing and verifying build it here."""
    return {
        "id": id,
        "record_id": record_id,
        "record_sha256": record_sha256,
        "signer": signer,
        "role": role,
        "method": method,
        # Normalised to UTC so a value read back from PostgreSQL prints the same.
        "signed_at": _iso(_to_utc(signed_at)),
        "evidence_sha256": evidence_sha256,
    }


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
    """Check a stored signature: trusted key, intact seal, and the record unchanged since."""
    async with session_factory() as session:
        sig = await session.get(models.Signature, signature_id)
        if sig is None:
            return VerifyResult(ok=False, reason="unknown signature", signature_id=signature_id)
        record = await session.get(models.Record, sig.record_id)
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
        record_sha256_now=stored_record_digest(record) if record is not None else None,
    )
    if sig.public_key != trusted_public_key_b64:
        result.reason = "signed by a key this server does not trust"
        return result
    payload = signature_payload(
        id=sig.id,
        record_id=sig.record_id,
        record_sha256=sig.record_sha256,
        signer=sig.signer,
        role=sig.role,
        method=sig.method,
        signed_at=sig.signed_at,
        evidence_sha256=sig.evidence_sha256,
    )
    if not verify_seal(sig.public_key, payload, sig.seal):
        result.reason = "seal does not match (the signature row was altered)"
        return result
    if record is None:
        result.reason = "the signed record no longer exists"
        return result
    if result.record_sha256_now != sig.record_sha256:
        result.reason = "record changed since it was signed"
        return result
    result.ok = True
    result.reason = "signature valid: sealed by this server and the record is unchanged"
    return result
