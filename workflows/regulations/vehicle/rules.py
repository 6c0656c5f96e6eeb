"""R10 `vehicle` — the money rules of 烟草公司客户服务部车辆安全管理规定, as pure functions over
`Decimal` (no workflow, no clock): every yuan a fine, a compensation or a reward books comes from
one of these, with the policy value it used, so a person can read the rule next to the figure.

- 三.1 fuel standards per model and month (`FuelStandard`, `allowance`);
- 三.4 / 四.10 the monthly per-vehicle fuel account (`fuel_account`: litres, km, L/100 km
  against the allowance, the excess litres × the month's price fined in full);
- 四.3 accident liability shares (`LiabilityShare`, `compensation`): full 70 % up to 3,000 元,
  main 60 % with the cap the text left blank (None: no cap until a company sets one), equal
  50 % up to 1,500 元, minor 30 % up to 1,000 元;
- 四.1 / 四.9 breach fines (`breach_fine`);
- 四.12 rewards (`safe_driving_reward`, `mileage_subsidy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

FEN = Decimal("0.01")
CENTI_LITRE = Decimal("0.01")
HUNDRED = Decimal(100)

Liability = Literal["full", "main", "equal", "minor", "none"]
Position = Literal["driver", "director", "deputy_director"]
BreachKind = Literal[
    "private_use", "passengers", "detour", "overnight_home", "parked_outside", "drinking"
]


def money(value: Decimal) -> Decimal:
    """Yuan, rounded half-up to the fen."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def percent(share: Decimal) -> str:
    """0.70 → "70%"."""
    text = f"{share * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def litres(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENTI_LITRE, rounding=ROUND_HALF_UP)


# ---- 三.1 fuel standards ---------------------------------------------------------------------


class FuelStandard(BaseModel):
    """One model's standard: base L/100 km, the allowed excess (上浮), and a higher allowed
    excess in the summer months (7–9 月 for 东南; none for 五菱)."""

    type_name: str = Field(min_length=1, max_length=50, description="车型")
    base_l_per_100km: Decimal = Field(ge=0, description="耗油标准（升/百公里）")
    allowed_over: Decimal = Field(ge=0, description="允许上浮（升/百公里）")
    summer_over: Decimal | None = Field(None, ge=0, description="夏季允许上浮（升/百公里）")
    summer_months: tuple[int, ...] = Field((), description="夏季月份")


DEFAULT_FUEL_STANDARDS: dict[str, FuelStandard] = {
    "dongnan": FuelStandard(
        type_name="东南",
        base_l_per_100km=Decimal("9.5"),
        allowed_over=Decimal("4.5"),
        summer_over=Decimal("6.5"),
        summer_months=(7, 8, 9),
    ),
    "wuling": FuelStandard(
        type_name="五菱", base_l_per_100km=Decimal("6.5"), allowed_over=Decimal("3.5")
    ),
}


def allowance(standard: FuelStandard, month: int) -> Decimal:
    """The L/100 km a vehicle of this standard may burn in `month` (1–12): the base plus the
    allowed excess of that month."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1–12, not {month}")
    over = standard.allowed_over
    if standard.summer_over is not None and month in standard.summer_months:
        over = standard.summer_over
    return standard.base_l_per_100km + over


# ---- 三.4 / 四.10 the monthly per-vehicle fuel account ----------------------------------------


@dataclass(frozen=True)
class FuelAccount:
    litres: Decimal  # bought (the month's registered receipts)
    km: Decimal  # driven (the trip log)
    consumption: Decimal | None  # L/100 km (None: no km driven)
    allowed_per_100km: Decimal
    allowed_litres: Decimal
    excess_litres: Decimal
    price_yuan: Decimal  # per litre (the month's receipts: amount / litres)
    fine_yuan: Decimal  # excess litres × price, in full

    @property
    def over(self) -> bool:
        return self.excess_litres > 0


def fuel_account(
    bought_litres: Decimal, km: Decimal, allowed_per_100km: Decimal, price_yuan: Decimal
) -> FuelAccount:
    """One vehicle's month: the allowance is `km × allowed / 100` litres; what was bought
    beyond it is the excess, fined in full at the month's price (四.10 按超标数量全额处罚)."""
    if bought_litres < 0 or km < 0 or price_yuan < 0:
        raise ValueError("litres, km and price are not negative")
    allowed = litres(km * allowed_per_100km / HUNDRED)
    excess = max(litres(bought_litres) - allowed, Decimal("0.00"))
    consumption = litres(bought_litres * HUNDRED / km) if km > 0 else None
    return FuelAccount(
        litres=litres(bought_litres),
        km=km,
        consumption=consumption,
        allowed_per_100km=allowed_per_100km,
        allowed_litres=allowed,
        excess_litres=excess,
        price_yuan=money(price_yuan),
        fine_yuan=money(excess * price_yuan),
    )


def average_price(total_yuan: Decimal, total_litres: Decimal) -> Decimal:
    """The month's price per litre from its receipts (0 without any)."""
    return money(total_yuan / total_litres) if total_litres > 0 else Decimal("0.00")


# ---- 四.3 accident liability --------------------------------------------------------------


class LiabilityShare(BaseModel):
    share: Decimal = Field(ge=0, le=1, description="赔偿比例")
    cap_yuan: Decimal | None = Field(None, ge=0, description="最高赔偿（元），空为未设定上限")


DEFAULT_LIABILITY: dict[str, LiabilityShare] = {
    "full": LiabilityShare(share=Decimal("0.70"), cap_yuan=Decimal(3000)),
    # 原文「最高不超过××××元」: the cap is blank until a company sets one.
    "main": LiabilityShare(share=Decimal("0.60"), cap_yuan=None),
    "equal": LiabilityShare(share=Decimal("0.50"), cap_yuan=Decimal(1500)),
    "minor": LiabilityShare(share=Decimal("0.30"), cap_yuan=Decimal(1000)),
    "none": LiabilityShare(share=Decimal(0), cap_yuan=Decimal(0)),
}


@dataclass(frozen=True)
class Compensation:
    liability: str
    cost_yuan: Decimal
    share: Decimal
    cap_yuan: Decimal | None
    by_share_yuan: Decimal  # cost × share
    amount_yuan: Decimal  # what the driver pays
    capped: bool

    def rule_zh(self, names: dict[str, str]) -> str:
        cap = (
            f"最高 {self.cap_yuan} 元" if self.cap_yuan is not None else "最高额未设定（原文空白）"
        )
        tail = f"，按上限 {self.cap_yuan} 元" if self.capped else ""
        return (
            f"因公交通事故负{names.get(self.liability, self.liability)}：费用 {self.cost_yuan} 元 × "
            f"{percent(self.share)}（{cap}）= {self.by_share_yuan} 元{tail}"
        )


def compensation(
    liability: str, cost_yuan: Decimal, table: dict[str, LiabilityShare]
) -> Compensation:
    """四.3 the driver's share of an on-duty accident's cost, at most the liability's cap (a cap
    of None: no cap)."""
    if cost_yuan < 0:
        raise ValueError("the cost is not negative")
    rule = table[liability]
    by_share = money(cost_yuan * rule.share)
    amount = by_share if rule.cap_yuan is None else min(by_share, money(rule.cap_yuan))
    return Compensation(
        liability=liability,
        cost_yuan=money(cost_yuan),
        share=rule.share,
        cap_yuan=None if rule.cap_yuan is None else money(rule.cap_yuan),
        by_share_yuan=by_share,
        amount_yuan=amount,
        capped=amount < by_share,
    )


MAIN_OR_WORSE = ("full", "main")


def main_or_worse_within(liabilities: list[tuple[str, object]]) -> int:
    """How many of these (liability, when) accidents are main liability or worse (主责以上)."""
    return sum(1 for liability, _ in liabilities if liability in MAIN_OR_WORSE)


# ---- 四.1 / 四.9 breach fines ----------------------------------------------------------------


class BreachFines(BaseModel):
    private_use_director_yuan: Decimal = Field(
        Decimal(200), ge=0, description="公车私用罚款（主任、副主任）：四.1 每次"
    )
    private_use_driver_yuan: Decimal = Field(
        Decimal(100), ge=0, description="公车私用罚款（驾驶员）：四.1 每次"
    )
    overnight_home_yuan: Decimal = Field(
        Decimal(300), ge=0, description="私自将车开回家过夜罚款：四.1 每次，当月工资中扣除"
    )
    drinking_yuan: Decimal = Field(
        Decimal(200), ge=0, description="工作时间酗酒或酒后驾车罚款：四.9 并按考核细则扣分"
    )
    parked_outside_yuan: Decimal = Field(
        Decimal(100),
        ge=0,
        description="未按指定地点停放罚款：四.8 原文未定金额（默认同驾驶员公车私用），并追究主任责任",
    )
    unreported_accident_yuan: Decimal = Field(
        Decimal(200), ge=0, description="事故隐瞒不报罚款：四.7 原文「视情节轻重」，默认金额"
    )


def breach_fine(kind: str, position: str, fines: BreachFines) -> Decimal:
    """The fine of one reported breach (一.5 / 四.1 / 四.8 / 四.9). Carrying passengers and
    detours on others' private errands are private use (公车私用)."""
    if kind in ("private_use", "passengers", "detour"):
        if position in ("director", "deputy_director"):
            return money(fines.private_use_director_yuan)
        return money(fines.private_use_driver_yuan)
    if kind == "overnight_home":
        return money(fines.overnight_home_yuan)
    if kind == "drinking":
        return money(fines.drinking_yuan)
    if kind == "parked_outside":
        return money(fines.parked_outside_yuan)
    raise ValueError(f"unknown breach {kind!r}")


# The breaches whose repeat (再犯不改) brings a transfer or a dismissal (四.1).
REPEAT_SANCTIONED = ("private_use", "passengers", "detour", "overnight_home")


def repeat_sanction(position: str) -> Literal["demotion", "dismissal"]:
    """四.1 再犯不改的: 主任、副主任调离岗位 (the register's demotion), 驾驶员一律辞退."""
    return "demotion" if position in ("director", "deputy_director") else "dismissal"


# ---- 四.12 rewards --------------------------------------------------------------------------


class Rewards(BaseModel):
    safe_driver_yuan: Decimal = Field(
        Decimal(100), ge=0, description="安全行车奖（驾驶员）：四.12 每月"
    )
    safe_group_leader_yuan: Decimal = Field(
        Decimal(150), ge=0, description="安全行车奖（车管组组长）：四.12 每月"
    )
    subsidy_fen_per_100km: Decimal = Field(
        Decimal(4), ge=0, description="安全行驶公里补贴：四.12 按百公里补贴（分）"
    )


def safe_driving_reward(group_leader: bool, safe: bool, rewards: Rewards) -> Decimal:
    """四.12 the month's safe-driving award: nothing after an accident or a breach."""
    if not safe:
        return Decimal("0.00")
    return money(rewards.safe_group_leader_yuan if group_leader else rewards.safe_driver_yuan)


def mileage_subsidy(km: Decimal, rewards: Rewards) -> Decimal:
    """四.12 按百公里补贴 4 分: km / 100 × 4 分, in yuan rounded to the fen (proportional)."""
    if km < 0:
        raise ValueError("km is not negative")
    return money(km / HUNDRED * rewards.subsidy_fen_per_100km / HUNDRED)
