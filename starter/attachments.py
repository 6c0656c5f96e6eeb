"""Attachments: a file a person attaches to a form is stored here (PostgreSQL, table
attachments), the case keeps its reference (workflows.model.Attachment: id, name, media type,
size and the SHA-256 this server computed), and anyone signed in may read it back by its id.

A drawn signature (a PNG data URL sent with a completion) is kept the same way, found by the
SHA-256 of its evidence text: the signature row's `evidence_sha256`, which its seal covers, so
the image shown on a record is provably the one that was signed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from activities.errors import Invalid, NotFound
from store.db import SessionFactory
from store.models import Attachment as AttachmentRow
from workflows.model import Attachment

MAX_BYTES = 10_000_000  # one file; a scan of a receipt or a spreadsheet fits
MAX_FILES = 10  # per form post
_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def reference(row: AttachmentRow) -> dict[str, Any]:
    """What a form keeps of a stored file."""
    return Attachment(
        id=row.id, name=row.name, media_type=row.media_type, size=row.size, sha256=row.sha256
    ).model_dump()


def _clean_name(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", (name or "").strip())[-200:]
    return name or "附件"


async def store(
    session_factory: SessionFactory,
    content: bytes,
    name: str,
    media_type: str | None,
    created_by: str | None,
    evidence_sha256: str | None = None,
) -> dict[str, Any]:
    """Keep a file; its reference. Invalid when it is empty or larger than MAX_BYTES."""
    if not content:
        raise Invalid("the file is empty", "file", "文件是空的，请重新选择")
    if len(content) > MAX_BYTES:
        raise Invalid(
            f"the file is larger than {MAX_BYTES // 1_000_000} MB", "file",
            f"文件超过 {MAX_BYTES // 1_000_000} MB，请压缩或拆分后再上传",
        )  # fmt: skip
    media = (media_type or "").split(";", 1)[0].strip().lower()
    row = AttachmentRow(
        id="att_" + secrets.token_urlsafe(18),
        name=_clean_name(name),
        media_type=media
        if _TYPE.match(media) and len(media) <= 100
        else "application/octet-stream",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        evidence_sha256=evidence_sha256,
        created_by=created_by,
    )
    async with session_factory() as session:
        session.add(row)
        await session.commit()
    return reference(row)


async def fetch(session_factory: SessionFactory, attachment_id: str) -> AttachmentRow:
    async with session_factory() as session:
        row = await session.get(AttachmentRow, attachment_id[:80])
    if row is None:
        raise NotFound(f"no attachment {attachment_id}", "id", f"没有附件 {attachment_id}")
    return row


async def references(session_factory: SessionFactory, ids: Iterable[str]) -> dict[str, dict]:
    """The references of stored files by id (ids nobody stored are left out)."""
    wanted = {i[:80] for i in ids if i}
    if not wanted:
        return {}
    stmt = select(AttachmentRow).where(AttachmentRow.id.in_(wanted))
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return {r.id: reference(r) for r in rows}


# ---- drawn signatures -----------------------------------------------------------------------------

_PNG = "data:image/png;base64,"


def evidence_digest(evidence: str) -> str:
    """The SHA-256 the engine keeps of a signature's evidence (workflows.engine.records)."""
    return hashlib.sha256(evidence.encode("utf-8")).hexdigest()


async def keep_drawings(
    session_factory: SessionFactory, signatures: Iterable[Any], created_by: str | None
) -> None:
    """Keep the image of each drawn signature of a completion the workflow accepted."""
    for sig in signatures:
        evidence = sig.get("evidence") if isinstance(sig, dict) else getattr(sig, "evidence", None)
        method = sig.get("method") if isinstance(sig, dict) else getattr(sig, "method", None)
        if method != "drawing" or not isinstance(evidence, str) or not evidence.startswith(_PNG):
            continue
        try:
            png = base64.b64decode(evidence[len(_PNG) :], validate=True)
        except (binascii.Error, ValueError):
            continue
        digest = evidence_digest(evidence)
        async with session_factory() as session:
            found = await session.scalar(
                select(AttachmentRow.id).where(AttachmentRow.evidence_sha256 == digest)
            )
        if found is None and png:
            await store(session_factory, png, "签名.png", "image/png", created_by, digest)


async def drawings(session_factory: SessionFactory, digests: Iterable[str]) -> dict[str, str]:
    """evidence SHA-256 -> the id of its kept image."""
    wanted = {d for d in digests if d}
    if not wanted:
        return {}
    stmt = select(AttachmentRow.evidence_sha256, AttachmentRow.id).where(
        AttachmentRow.evidence_sha256.in_(wanted)
    )
    async with session_factory() as session:
        return {str(d): i for d, i in (await session.execute(stmt)).all()}
