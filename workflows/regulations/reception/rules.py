"""R9 `reception` — the attribution rules (第8–18条) as pure functions: no state, no clock, no
workflow. Each returns a `Decision` that names the clause it applied and says the rule in
Chinese, so the figure and the rule that made it are recorded side by side (clauses.py books
the shares and writes the decision into the register of deals).

Days are whole China dates between two events (`(later - earlier).days`): "within 7 days"
includes day 7; "more than 30 / 60 days" begins at day 31 / 61; "three days after the deal"
begins at day 4 (day 3 is still within three days)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class CustomerKey:
    """What identifies a customer in the register (第4条): the full name, the phone number, or
    the car's brand and plate with the customer's surname — any one of the three matches."""

    full_name: str = ""
    phone: str = ""
    car_brand: str = ""
    car_plate: str = ""

    @property
    def surname(self) -> str:
        return self.full_name[:1]


@dataclass(frozen=True)
class Decision:
    """Who is credited with a customer or a deal, in shares of 1 (empty: nobody), the clause
    applied, and the rule in words."""

    shares: tuple[tuple[str, Decimal], ...]
    clause: str
    rule: str
    new_customer: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def owner(self) -> str | None:
        """Whoever holds the largest share (the first of equals), or None."""
        return max(self.shares, key=lambda s: s[1])[0] if self.shares else None


def _pct(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}"


def _norm(text: str) -> str:
    return "".join(text.split()).upper()


def match_basis(a: CustomerKey, b: CustomerKey) -> str | None:
    """第4条: how two register entries are the same customer — "full_name", "phone" or "car"
    (brand + plate + surname) — or None. Empty fields never match."""
    if a.full_name and _norm(a.full_name) == _norm(b.full_name):
        return "full_name"
    if a.phone and _norm(a.phone) == _norm(b.phone):
        return "phone"
    if (
        a.car_plate
        and a.car_brand
        and a.surname
        and _norm(a.car_plate) == _norm(b.car_plate)
        and _norm(a.car_brand) == _norm(b.car_brand)
        and a.surname == b.surname
    ):
        return "car"
    return None


def days_between(earlier: date, later: date) -> int:
    return (later - earlier).days


def is_deal(deposit_paid: bool, subscription_signed: bool) -> bool:
    """第17条: a deal is a deposit paid AND the subscription signed."""
    return deposit_paid and subscription_signed


def same_visit_split(
    closer: str, original: str, closer_share: Decimal = Decimal("0.2")
) -> Decision:
    """第9(1)(2)、12(3)、13条: a colleague's customer served while the original salesperson is
    absent (or with their consent), and the deal closed on that visit: 二八分成 — the closer 20 %,
    the original 80 %; the customer's later business goes back to the original."""
    if closer == original:
        return Decision(((closer, ONE),), "R9 9", "本人客户，本人成交")
    return Decision(
        ((closer, closer_share), (original, ONE - closer_share)),
        "R9 9",
        f"原接待售楼员不在场，帮忙接待当时成交：成交的售楼员占{_pct(closer_share)}%，"
        f"原接待的售楼员占{_pct(ONE - closer_share)}%，其后手续移交原售楼员",
    )


def referral_conflict(registered: date, found: date, valid_days: int = 7) -> Decision:
    """第10条: a referred customer who did not ask for anyone was served in rotation; a conflict
    found within `valid_days` of the visit's registration is settled by the register (the
    referral's registration decides: handed over); later, the rotation stands. The shares are
    left to the caller (`new_customer` False: hand over; True: rotation stands)."""
    days = days_between(registered, found)
    if days <= valid_days:
        return Decision(
            (),
            "R9 10",
            f"登记后第 {days} 天发现冲突（{valid_days} 天有效期内）：按登记本核实后移交",
        )
    return Decision(
        (), "R9 10", f"登记后第 {days} 天才发现冲突（超过 {valid_days} 天有效期）：按轮排接待", True
    )


def family_visit(
    original: date, visit: date, last_deal: date | None = None, new_after_days: int = 30
) -> Decision:
    """第14条: a family (一家/一批人) belongs to whoever received it first; a later visit more
    than `new_after_days` after the original registration or the deal counts as new."""
    since = max(original, last_deal) if last_deal else original
    days = days_between(since, visit)
    if days > new_after_days:
        return Decision(
            (),
            "R9 14",
            f"距原始登记或成交已 {days} 天（超过 {new_after_days} 天）：按新客户处理",
            True,
        )
    return Decision(
        (), "R9 14", f"距原始登记或成交 {days} 天（未超过 {new_after_days} 天）：仍归原接待售楼员"
    )


def unknowingly_served(original: date, visit: date, new_after_days: int = 60) -> Decision:
    """第15条: a customer served without knowing they had been received before, found out after
    the registration: more than `new_after_days` from the original registration is new."""
    days = days_between(original, visit)
    if days > new_after_days:
        return Decision(
            (),
            "R9 15",
            f"此次来访距原始登记 {days} 天（超过 {new_after_days} 天）：视为新客户",
            True,
        )
    return Decision(
        (), "R9 15", f"此次来访距原始登记 {days} 天（未超过 {new_after_days} 天）：归还原接待售楼员"
    )


def discovered_after_deal(
    closer: str,
    original: str,
    original_registered: date,
    deal: date,
    found: date,
    *,
    window_days: int = 3,
    new_after_days: int = 60,
) -> Decision:
    """第16条: a deal closed without knowing the customer was another's. If the deal is more than
    `new_after_days` after the original registration, it is a new customer's deal (the original
    takes no part); else found more than `window_days` after the deal, the closer keeps it; found
    within `window_days`, 五五分成."""
    age = days_between(original_registered, deal)
    if age > new_after_days:
        return Decision(
            ((closer, ONE),), "R9 16",
            f"成交距原始登记 {age} 天（超过 {new_after_days} 天）：视为新客户成交，原接待员不参与提成", True,
        )  # fmt: skip
    late = days_between(deal, found)
    if late > window_days:
        return Decision(
            ((closer, ONE),), "R9 16", f"成交后第 {late} 天才发觉（超过 {window_days} 天）：业绩归接待成交售楼员"
        )  # fmt: skip
    half = Decimal("0.5")
    return Decision(
        ((closer, half), (original, half)), "R9 16", f"成交后第 {late} 天内发觉（{window_days} 天内）：五五分成"
    )  # fmt: skip


def grabbing(grabber: str) -> Decision:
    """第13条: knowingly serving another's customer without their consent is grabbing: the
    deal's commission is cancelled (nobody is credited) and a fine follows."""
    return Decision(
        (),
        "R9 13",
        f"{grabber} 明知是他人客户未经同意继续接待，视为抢客户：取消该成交客户的佣金并罚款",
    )


def fine_in_range(amount: Decimal, low: Decimal, high: Decimal) -> bool:
    """第13条: the grabbing fine is decided by the sales manager within [low, high] 元."""
    return low <= amount <= high


def group_purchase(closer: str) -> Decision:
    """第18条: a group purchase arranged with the developer or the marketing department: served in
    rotation, but not the closer's deal; only a larger share of the group bonus."""
    return Decision(
        (), "R9 18", f"团购客户：业绩不归 {closer} 所有，仅在分配团购成交奖金时适度增加比例"
    )


def own_customer(closer: str, clause: str = "R9 1") -> Decision:
    return Decision(((closer, ONE),), clause, "本人接待的客户，业绩归本人")


def split_amounts(total: Decimal, shares: tuple[tuple[str, Decimal], ...]) -> list[Decimal]:
    """The amounts of `total` by `shares`, to the fen, the last share taking the remainder (as
    the ledger's `split` books them)."""
    cent = Decimal("0.01")
    amounts = [(total * r).quantize(cent, rounding=ROUND_HALF_UP) for _, r in shares[:-1]]
    return [*amounts, total.quantize(cent, rounding=ROUND_HALF_UP) - sum(amounts, Decimal(0))]
