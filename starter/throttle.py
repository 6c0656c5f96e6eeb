"""The sign-in throttle: failed passwords slow the guesser down without locking out the person
who holds the right one.

Three counts, kept in the database (so every web process shares them) and taken under a row
lock *before* the password is checked, so fifty parallel attempts are fifty counted attempts:

- per account and client address: 5 failures, then a growing delay (1 s, 2 s, 4 s, ... at most
  15 minutes) before the next try from that address — a person who mistyped waits seconds;
- per account, from every address: 100 failures an hour (OWASP ASVS 2.2.1), then the same
  growing delay for everyone (a guesser spread over many addresses);
- per client address, over every account: 30 failures in 15 minutes (password spraying).

An account is named by its user id, whether the person typed the id or the e-mail, in any case
(an unknown login counts under what was typed, so unknown and known logins behave alike). A
right password from another address is not held up by someone else's guesses on the account,
and a success clears its own account-and-address count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from store.models import LoginThrottle, User

if TYPE_CHECKING:
    from store.db import SessionFactory


@dataclass(frozen=True)
class Rule:
    prefix: str
    limit: int  # failures before anything is held up
    window: timedelta  # a count starts again after this long without a failure
    growing: bool  # beyond the limit: a delay doubling per failure (else: the whole window)


PAIR = Rule("pair", 5, timedelta(minutes=15), True)
ACCOUNT = Rule("acct", 100, timedelta(hours=1), True)
ADDRESS = Rule("addr", 30, timedelta(minutes=15), False)
MAX_DELAY = timedelta(minutes=15)


def _delay(rule: Rule, row: LoginThrottle, now: datetime) -> float:
    """Seconds until `row`'s key may try again (0: now)."""
    if row.failures < rule.limit or row.last_failure_at is None:
        return 0.0
    if rule.growing:
        wait = min(timedelta(seconds=2 ** min(row.failures - rule.limit, 20)), MAX_DELAY)
    else:
        wait = rule.window
    return max(0.0, (row.last_failure_at + wait - now).total_seconds())


async def account_of(session_factory: SessionFactory, login: str) -> str:
    """The account a login names: the user id for an id or e-mail (any case), else the text."""
    text = login.strip().lower()
    async with session_factory() as s:
        found = await s.scalar(
            select(User.id)
            .where(or_(func.lower(User.id) == text, func.lower(User.email) == text))
            .limit(1)
        )
    return found.lower() if found else f"?{text}"


def _keys(account: str, address: str) -> list[tuple[Rule, str]]:
    return [
        (PAIR, f"pair:{account}|{address}"),
        (ACCOUNT, f"acct:{account}"),
        (ADDRESS, f"addr:{address}"),
    ]


async def reserve(session_factory: SessionFactory, account: str, address: str) -> int:
    """Count one attempt at `account` from `address` as failed until it succeeds; or, when a
    count says wait, count nothing and return the seconds to wait (> 0)."""
    keys = _keys(account, address)
    now = datetime.now(UTC)
    async with session_factory() as s, s.begin():
        await s.execute(
            insert(LoginThrottle)
            .values([{"key": k, "failures": 0, "window_start": now} for k in sorted(_k(keys))])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = {
            r.key: r
            for r in await s.scalars(
                select(LoginThrottle)
                .where(LoginThrottle.key.in_(_k(keys)))
                .order_by(LoginThrottle.key)  # every writer locks in this order: no deadlock
                .with_for_update()
            )
        }
        # The time of the judgement is taken once the rows are locked: an attempt that waited
        # for the lock must not stamp its failure with the earlier time it arrived (that would
        # move a count's last failure back and open the next try early).
        now = datetime.now(UTC)
        for rule, key in keys:
            row = rows[key]  # a count starts again after a quiet window
            if row.last_failure_at is not None and now - row.last_failure_at > rule.window:
                row.failures, row.window_start = 0, now
        wait = max(_delay(rule, rows[key], now) for rule, key in keys)
        if wait > 0:
            return int(wait) + 1
        for _, key in keys:
            rows[key].failures += 1
            rows[key].last_failure_at = now
    return 0


async def succeeded(session_factory: SessionFactory, account: str, address: str) -> None:
    """The password was right: its account-and-address count starts again, and this attempt
    no longer counts against the account or the address. (Rows are reset, never deleted: a
    parallel attempt that found a row must still find it to lock it.)"""
    keys = _keys(account, address)
    async with session_factory() as s, s.begin():
        for row in await s.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.key.in_(_k(keys)))
            .order_by(LoginThrottle.key)
            .with_for_update()
        ):
            if row.key == keys[0][1]:
                row.failures, row.last_failure_at = 0, None
            elif row.failures > 0:
                row.failures -= 1


def _k(keys: list[tuple[Rule, str]]) -> list[str]:
    return [k for _, k in keys]


async def forget(session_factory: SessionFactory, accounts: Sequence[str]) -> None:
    """Clear every count of these accounts (an administrator set a new password)."""
    async with session_factory() as s, s.begin():
        for account in accounts:
            await s.execute(
                update(LoginThrottle)
                .where(
                    or_(
                        LoginThrottle.key == f"acct:{account.lower()}",
                        LoginThrottle.key.like(f"pair:{account.lower()}|%"),
                    )
                )
                .values(failures=0, last_failure_at=None)
            )
