"""Ed25519 seals: key file handling, seal/verify, and verification against the database."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.signing import (
    Sealer,
    canonical_json,
    sha256_hex,
    verify_seal,
    verify_signature,
)
from activities.store_step import CaseStore
from store import models
from store.db import SessionFactory
from workflows.model import CaseWrite, RecordWrite, SignatureWrite, StepChanges

# The async tests run on the session event loop of the session-scoped conftest fixtures
# (asyncio_default_test_loop_scope = "session" in pyproject.toml). No module-level
# `pytestmark = pytest.mark.asyncio(...)` here: it would also mark the sync tests, which
# pytest-asyncio warns about.

T0 = datetime(2026, 5, 6, 8, 30, 15, 123456, tzinfo=UTC)


def test_canonical_json_is_stable() -> None:
    assert canonical_json({"b": 1, "a": "意见"}) == '{"a":"意见","b":1}'
    assert sha256_hex({"a": 1, "b": 2}) == sha256_hex({"b": 2, "a": 1})
    assert len(sha256_hex({})) == 64


def test_key_file_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "nested" / "signing_key.pem"
    sealer = Sealer.load_or_create(path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Sealer.load_or_create(path)
    assert again.public_key_b64 == sealer.public_key_b64


def test_seal_and_verify() -> None:
    sealer = Sealer.generate()
    payload = {"id": "s1", "record_sha256": "ab" * 32, "signer": "王工"}
    seal = sealer.seal(payload)
    assert verify_seal(sealer.public_key_b64, payload, seal)
    assert verify_seal(sealer.public_key_b64, dict(reversed(payload.items())), seal)
    assert not verify_seal(sealer.public_key_b64, {**payload, "signer": "李工"}, seal)
    assert not verify_seal(Sealer.generate().public_key_b64, payload, seal)
    assert not verify_seal(sealer.public_key_b64, payload, "not base64!")


async def _signed(db: SessionFactory, sealer: Sealer) -> str:
    case = CaseWrite(id="c1", regulation="revisit", title="t", customer_id="C1", status="open")
    record = RecordWrite(
        id="c1/revisit_record/1",
        kind="revisit_record",
        title="客户回访记录表",
        data={"rating": 4, "comment": "良好"},
        created_at=T0,
    )
    sig = SignatureWrite(
        id="c1/revisit_record/1/sig/customer",
        record_id=record.id,
        signer="王工",
        role="customer",
        method="drawing",
        signed_at=T0,
        evidence_sha256="cd" * 32,
    )
    store = CaseStore(db, sealer, channels=["console"])
    await store.record_step(StepChanges(case=case, records=[record], signatures=[sig]))
    return sig.id


async def test_verify_signature_ok(clean_db: SessionFactory) -> None:
    sealer = Sealer.generate()
    sig_id = await _signed(clean_db, sealer)
    result = await verify_signature(clean_db, sig_id, sealer.public_key_b64)
    assert result.ok, result.reason
    assert (result.signer, result.role, result.method) == ("王工", "customer", "drawing")
    assert result.signed_at == T0
    assert result.record_sha256_signed == result.record_sha256_now


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", {"rating": 5, "comment": "良好"}),
        ("title", "客户回访记录表（改）"),
        ("created_by", "someone-else"),
        ("created_at", T0 + timedelta(seconds=1)),
        ("kind", "revisit_report"),
        ("case_id", "c2"),
    ],
)
async def test_any_change_to_the_signed_record_is_detected(
    clean_db: SessionFactory, column: str, value: Any
) -> None:
    """The seal covers the whole record: its case, kind, title, data, author and time."""
    sealer = Sealer.generate()
    sig_id = await _signed(clean_db, sealer)
    async with clean_db() as s, s.begin():
        row = await s.get(models.Record, "c1/revisit_record/1")
        assert row is not None
        setattr(row, column, value)
    result = await verify_signature(clean_db, sig_id, sealer.public_key_b64)
    assert not result.ok
    assert "record changed" in result.reason
    assert result.record_sha256_now != result.record_sha256_signed


async def test_altered_signature_row_breaks_the_seal(clean_db: SessionFactory) -> None:
    sealer = Sealer.generate()
    sig_id = await _signed(clean_db, sealer)
    async with clean_db() as s, s.begin():
        row = await s.get(models.Signature, sig_id)
        assert row is not None
        row.signer = "冒名者"
    result = await verify_signature(clean_db, sig_id, sealer.public_key_b64)
    assert not result.ok and "seal does not match" in result.reason


async def test_untrusted_key_and_unknown_signature(clean_db: SessionFactory) -> None:
    sealer = Sealer.generate()
    sig_id = await _signed(clean_db, sealer)
    other = Sealer.generate()
    result = await verify_signature(clean_db, sig_id, other.public_key_b64)
    assert not result.ok and "does not trust" in result.reason
    missing = await verify_signature(clean_db, "nope", sealer.public_key_b64)
    assert not missing.ok and missing.reason == "unknown signature"
