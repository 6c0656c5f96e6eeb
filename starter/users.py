"""People and their credentials: Argon2 password hashes (pwdlib), revocable API tokens, and the
demo users of the dev stack."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, or_, select, update

from activities.errors import Conflict, Forbidden, Invalid, NotFound
from starter import people, throttle
from starter.sessions import end_sessions
from store.models import ApiToken, User
from workflows.regulations import ROLE_BOOK, demo_people
from workflows.roles import RoleBook

if TYPE_CHECKING:
    from store.db import SessionFactory


TOKEN_PREFIX = "zd_"

# Argon2id through pwdlib. Hashes written by earlier versions (hand-written scrypt,
# `scrypt$n$r$p$salt$hash`) still verify and are replaced by argon2 at the next sign-in.
_HASHER = PasswordHash((Argon2Hasher(),))


# ---- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify_legacy_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        unb64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))  # noqa: E731
        expected = unb64(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=unb64(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=64 * 1024 * 1024,
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> tuple[bool, str | None]:
    """(matches?, a new hash to store instead when the stored one is outdated)."""
    if stored.startswith("scrypt$"):
        ok = _verify_legacy_scrypt(password, stored)
        return ok, (hash_password(password) if ok else None)
    try:
        return _HASHER.verify_and_update(password, stored)
    except Exception:  # an unreadable hash never matches
        return False, None


@functools.cache
def _dummy_hash() -> str:
    """Checked when the login is unknown, so a wrong login costs as much time as a wrong
    password (made on first use, not at import)."""
    return hash_password(secrets.token_hex(8))


def check_roles(roles: Sequence[str], book: RoleBook | None = None) -> list[str]:
    """The roles, each one a regulation declares (`book`, default: every regulation's,
    workflows.regulations.ROLE_BOOK)."""
    book = book or ROLE_BOOK
    unknown = [r for r in roles if r not in book]
    if unknown:
        known = ", ".join(book.names)
        raise Invalid(
            f"unknown role {unknown[0]!r} (roles: {known})",
            "roles",
            f"未知角色 {unknown[0]!r}（可选：{known}）",
        )
    return list(dict.fromkeys(roles))


# ---- users ------------------------------------------------------------------------------------


async def create_user(
    session_factory: SessionFactory,
    id: str,
    name: str,
    password: str,
    roles: Sequence[str],
    department: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    *,
    book: RoleBook | None = None,
) -> User:
    """Create a user; Conflict if the id is taken, Invalid for an unknown role or empty
    password."""
    if not id or len(id) > 64 or any(c.isspace() for c in id):
        raise Invalid(
            "a user id is 1-64 characters without spaces", "id", "用户名为 1–64 个字符，不含空格"
        )
    if not name.strip():
        raise Invalid("a user needs a display name", "name", "请填写姓名")
    if len(password) < 6:
        raise Invalid("a password has at least 6 characters", "password", "密码至少 6 个字符")
    user = User(
        id=id,
        name=name.strip(),
        password_hash=hash_password(password),
        roles=check_roles(roles, book),
        department=department,
        email=email,
        phone=phone,
        active=True,
    )
    async with session_factory() as session:
        if await session.get(User, id) is not None:
            raise Conflict(f"user {id} already exists", "id", f"用户 {id} 已存在")
        session.add(user)
        await session.commit()
    people.forget()
    return user


async def get_user(session_factory: SessionFactory, user_id: str) -> User | None:
    async with session_factory() as session:
        return await session.get(User, user_id)


async def list_users(session_factory: SessionFactory) -> list[User]:
    async with session_factory() as session:
        return list((await session.scalars(select(User).order_by(User.id))).all())


async def authenticate(session_factory: SessionFactory, login: str, password: str) -> User | None:
    """The active user whose id (or e-mail) and password match, else None."""
    login = login.strip()
    async with session_factory() as session:
        user = (
            await session.scalars(
                select(User).where(or_(User.id == login, func.lower(User.email) == login.lower()))
            )
        ).first()
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    ok, new_hash = verify_password(password, user.password_hash)
    if not ok or not user.active:
        return None
    if new_hash is not None:
        async with session_factory() as session:
            await session.execute(
                update(User).where(User.id == user.id).values(password_hash=new_hash)
            )
            await session.commit()
    return user


MIN_PASSWORD = 12  # a password a person chooses (OWASP ASVS 2.1.1)


def check_new_password(password: str, old: str | None = None) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"a new password has at least {MIN_PASSWORD} characters",
            "new_password",
            f"新密码至少 {MIN_PASSWORD} 个字符",
        )
    if len(password) > 200:
        raise Invalid(
            "a password has at most 200 characters", "new_password", "密码最多 200 个字符"
        )
    if old is not None and password == old:
        raise Invalid(
            "the new password is the current one", "new_password", "新密码不能与当前密码相同"
        )


async def set_password(session_factory: SessionFactory, user_id: str, password: str) -> None:
    """An administrator sets a user's password: every session of that user ends (they sign in
    again with the new one) and their sign-in throttle counts are cleared; the user's API
    tokens stay (they are not the password)."""
    check_new_password(password)
    async with session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", "id", f"没有用户 {user_id}")
        user.password_hash = hash_password(password)
        await session.commit()
    await end_sessions(session_factory, user_id)
    await throttle.forget(session_factory, [user_id])


async def change_password(
    session_factory: SessionFactory,
    user_id: str,
    current: str,
    new: str,
    keep_session: str | None = None,
) -> int:
    """The user changes their own password (the current one proves it is them); every other
    session of theirs ends (`keep_session`: the token of the one they are using). Returns the
    number of sessions ended."""
    async with session_factory() as session:
        user = await session.get(User, user_id)
    if user is None or not verify_password(current, user.password_hash)[0]:
        raise Forbidden("the current password is wrong", "current_password", "当前密码不正确")
    check_new_password(new, current)
    async with session_factory() as session:
        await session.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(new))
        )
        await session.commit()
    return await end_sessions(session_factory, user_id, keep=keep_session)


# ---- API tokens -----------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_token_with_id(
    session_factory: SessionFactory, user_id: str, name: str
) -> tuple[int, str]:
    """A new bearer token for `user_id`: (token id, token). Only its SHA-256 is stored, so the
    token is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", "user_id")
        row = ApiToken(user_id=user_id, name=name or "api", token_hash=token_hash(token))
        session.add(row)
        await session.commit()
        return row.id, token


async def issue_token(session_factory: SessionFactory, user_id: str, name: str) -> str:
    return (await issue_token_with_id(session_factory, user_id, name))[1]


async def list_tokens(
    session_factory: SessionFactory, user_id: str | None = None
) -> list[ApiToken]:
    stmt = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    async with session_factory() as session:
        return list((await session.scalars(stmt)).all())


async def revoke_token(
    session_factory: SessionFactory,
    token_id_or_prefix: str | int,
    *,
    owner: str | None = None,
) -> ApiToken:
    """Revoke a token given its numeric id or the token itself (`zd_...`). With `owner`, only
    that user's tokens may be revoked (Forbidden otherwise). Revoking twice is harmless."""
    key = str(token_id_or_prefix).strip()
    async with session_factory() as session:
        row: ApiToken | None
        if key.startswith(TOKEN_PREFIX):
            row = (
                await session.scalars(
                    select(ApiToken).where(ApiToken.token_hash == token_hash(key))
                )
            ).first()
        elif key.isdigit():
            row = await session.get(ApiToken, int(key))
        else:
            raise Invalid("give the token id (a number) or the token itself (zd_...)", "token")
        if row is None:
            raise NotFound(f"no token {key if key.isdigit() else key[:6] + '…'}", "token")
        if owner is not None and row.user_id != owner:
            raise Forbidden(f"token {row.id} belongs to another user", "token")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            await session.commit()
        return row


async def user_for_token(session_factory: SessionFactory, token: str) -> User | None:
    """The active user a valid, unrevoked token belongs to, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    stmt = (
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash(token),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    )
    async with session_factory() as session:
        return (await session.scalars(stmt)).first()


# ---- demo users -------------------------------------------------------------------------------


def demo_password(user_id: str) -> str:
    return f"{user_id}-demo"


async def ensure_demo_users(session_factory: SessionFactory) -> list[tuple[str, str, list[str]]]:
    """Create the demo users that are missing; return every demo user as
    (id, password, roles). Passwords are `<id>-demo` (a user who already existed keeps theirs)."""
    out: list[tuple[str, str, list[str]]] = []
    demo = demo_people()
    async with session_factory() as session:
        existing = set(
            await session.scalars(select(User.id).where(User.id.in_([p.id for p in demo])))
        )
        for p in demo:
            if p.id not in existing:
                session.add(
                    User(
                        id=p.id,
                        name=p.name,
                        password_hash=hash_password(demo_password(p.id)),
                        roles=list(p.roles),
                        department=p.department,
                        active=True,
                    )
                )
            out.append((p.id, demo_password(p.id), list(p.roles)))
        await session.commit()
    people.forget()
    return out


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "roles": list(user.roles or []),
        "department": user.department,
        "email": user.email,
        "phone": user.phone,
        "active": user.active,
    }


# ---- administration -------------------------------------------------------------------------


async def set_roles(
    session_factory: SessionFactory,
    user_id: str,
    roles: Sequence[str],
    book: RoleBook | None = None,
) -> User:
    """Replace a user's roles (unknown roles refused)."""
    return await _change_user(session_factory, user_id, roles=check_roles(roles, book))


async def set_active(session_factory: SessionFactory, user_id: str, active: bool) -> User:
    """Deactivate (or reactivate) a user: a deactivated user's sessions and tokens stop
    signing anyone in at once (both check `active`)."""
    return await _change_user(session_factory, user_id, active=active)


async def _change_user(session_factory: SessionFactory, user_id: str, **values: Any) -> User:
    async with session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", "id", f"没有用户 {user_id}")
        for name, value in values.items():
            setattr(user, name, value)
        await session.commit()
    people.forget()
    return user
