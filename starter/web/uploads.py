"""The files of a generated form (fields of type workflows.model.Attachment): those sent with
the post are stored (starter.attachments), those already attached are kept by their id; each
field gets the references it holds. A file refused (empty, too large) is said next to its
field, with the rest of the form's errors."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile

from activities.errors import ServiceError
from starter import attachments
from store.db import SessionFactory

KEPT = ".kept"


async def attached_files(
    session_factory: SessionFactory, form: FormData, user_id: str, lang: str = "zh"
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """(field name -> the references it holds, field name -> why a file was refused)."""
    out: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    kept: list[tuple[str, str]] = [
        (key[: -len(KEPT)], str(value))
        for key, value in form.multi_items()
        if key.endswith(KEPT) and isinstance(value, str)
    ]
    refs = await attachments.references(session_factory, (i for _, i in kept))
    for name, ref_id in kept:
        if ref_id in refs:
            out.setdefault(name, []).append(refs[ref_id])
    sent = [
        (key, value)
        for key, value in form.multi_items()
        if isinstance(value, UploadFile) and value.filename
    ]
    for key, upload in sent[: attachments.MAX_FILES]:
        content = await upload.read(attachments.MAX_BYTES + 1)
        try:
            ref = await attachments.store(
                session_factory, content, upload.filename or "", upload.content_type, user_id
            )
        except ServiceError as exc:
            errors[key] = exc.message if lang == "en" or not exc.message_zh else exc.message_zh
            continue
        out.setdefault(key, []).append(ref)
    return out, errors
