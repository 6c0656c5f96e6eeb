"""Checking a signature (the API's verify route and the record page's "verify" link): the seal
against this server's public key and the whole record as stored now."""

from __future__ import annotations

from typing import Any

from starter.state import AppState
from store import queries
from store.db import SessionFactory


async def verify_signature(
    st: AppState, factory: SessionFactory, signature_id: str
) -> dict[str, Any]:
    """{valid, reason, ...} of one signature; the public key is read once per app."""
    from activities.signing import Sealer
    from activities.signing import verify_signature as verify

    if st.public_key_b64 is None:
        st.public_key_b64 = Sealer.load_or_create(st.settings.signing_key_file).public_key_b64
    result = await verify(factory, signature_id, st.public_key_b64)
    return queries.jsonable(result)  # type: ignore[no-any-return]
