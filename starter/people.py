"""People by name: who a login id is (张晓明, not `staff`) for the pages, the exports and the
CLI, and who may be chosen for a person field of a form (the active users holding its role).

The directory is read from the users table and kept for a few seconds per database (a page
shows many people; an organisation has hundreds of users, not millions); a change of users
through starter.users forgets it at once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from store.db import SessionFactory
from store.models import User

KEEP_SECONDS = 10.0


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: tuple[str, ...]
    department: str | None
    active: bool


@dataclass(frozen=True)
class Directory:
    """The organisation's people by login id."""

    people: Mapping[str, Person] = field(default_factory=dict)

    def __contains__(self, uid: object) -> bool:
        return uid in self.people

    def name(self, uid: str | None) -> str:
        """A person's name; the id itself when nobody has it (a name typed by hand, a
        customer's signer, a department), empty for None."""
        if not uid:
            return ""
        person = self.people.get(uid)
        return person.name if person else uid

    def holders(self, role: str) -> list[Person]:
        """The active people holding `role` ("" = every active person), by name."""
        found = [p for p in self.people.values() if p.active and (not role or role in p.roles)]
        return sorted(found, key=lambda p: (p.name, p.id))

    def names(self, ids: Iterable[str]) -> list[str]:
        return [self.name(i) for i in ids]


_CACHE: dict[int, tuple[float, Directory]] = {}


def forget() -> None:
    """Drop what is kept (users changed)."""
    _CACHE.clear()


async def directory(session_factory: SessionFactory) -> Directory:
    key = id(session_factory)
    kept = _CACHE.get(key)
    now = time.monotonic()
    if kept is not None and now - kept[0] < KEEP_SECONDS:
        return kept[1]
    stmt = select(User.id, User.name, User.roles, User.department, User.active)
    async with session_factory() as session:
        rows = (await session.execute(stmt)).all()
    found = Directory(
        {
            r.id: Person(r.id, r.name, tuple(r.roles or ()), r.department, bool(r.active))
            for r in rows
        }
    )
    _CACHE[key] = (now, found)
    return found
