"""Roles: the codes of REGULATIONS.md with their Chinese and English names, and which role stands
above which (may act in its place on a case: a division leader for a department supervisor).

Each regulation declares the roles it needs in its folder (`people.py`: a `RoleBook`); the
registry merges them into the organisation's book (`workflows.regulations.ROLE_BOOK`), which
the starter uses for users, pages and the CLI. A regulation's workflow names roles through its
own book (`CaseWorkflow.ROLES`). Pure data: passed through the workflow sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Pair = tuple[str, str]


@dataclass(frozen=True)
class RoleBook:
    names: Mapping[str, Pair] = field(default_factory=dict)  # code -> (中文, English)
    above: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # role -> roles above

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        object.__setattr__(self, "above", MappingProxyType(dict(self.above)))

    def __contains__(self, code: object) -> bool:
        return code in self.names

    def __iter__(self) -> Iterable[str]:  # type: ignore[override]
        return iter(self.names)

    def zh(self, code: str) -> str:
        """A role's Chinese name (the code itself when the role is unknown)."""
        return self.names[code][0] if code in self.names else code

    def en(self, code: str) -> str:
        return self.names[code][1] if code in self.names else code

    def pair(self, code: str) -> Pair:
        return self.names.get(code, (code, code))

    def outranks(self, roles: Iterable[str], role: str) -> bool:
        """Whether one of `roles` stands above `role` (may act in its place)."""
        return bool(set(self.above.get(role, ())) & set(roles))

    def __or__(self, other: RoleBook) -> RoleBook:
        """Both books in one; a role both name must be called the same in both."""
        for code, names in other.names.items():
            if code in self.names and self.names[code] != names:
                raise ValueError(f"role {code} is {self.names[code]} and {names}")
        above = {k: tuple(v) for k, v in self.above.items()}
        for role, roles in other.above.items():
            above[role] = tuple(dict.fromkeys((*above.get(role, ()), *roles)))
        return RoleBook({**self.names, **other.names}, above)


# Roles of the system itself, whatever the regulations.
GENERIC = RoleBook(
    {
        "admin": ("系统管理员", "Administrator"),
        "system": ("系统", "System"),
    }
)


@dataclass(frozen=True)
class DemoPerson:
    """A person of the dev stack's demo (password `<id>-demo`), one per role a regulation needs."""

    id: str
    name: str
    roles: tuple[str, ...]
    department: str


GENERIC_DEMO = (DemoPerson("admin", "林涛", ("admin",), "信息中心"),)


def book_of(books: Iterable[RoleBook]) -> RoleBook:
    merged = GENERIC
    for book in books:
        merged = merged | book
    return merged


def demo_of(groups: Iterable[Iterable[DemoPerson]]) -> tuple[DemoPerson, ...]:
    """Every demo person once (the same id in two regulations must be the same person, whose
    roles are then the union), the administrator first."""
    found: dict[str, DemoPerson] = {}
    for group in (GENERIC_DEMO, *groups):
        for p in group:
            seen = found.get(p.id)
            if seen is not None and (seen.name, seen.department) != (p.name, p.department):
                raise ValueError(f"demo person {p.id} is {seen} and {p}")
            roles = tuple(dict.fromkeys((*(seen.roles if seen else ()), *p.roles)))
            found[p.id] = DemoPerson(p.id, p.name, roles, p.department)
    return tuple(found.values())
