"""R3 `shuttle-cart` — 客户看楼车（电瓶车）管理规定: its registry entry, made from this folder
(the clauses in clauses.py, the forms and policy in forms.py, the words in labels.py, the roles
and demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.shuttle_cart.clauses import ShuttleCartWorkflow
from workflows.regulations.shuttle_cart.labels import LABELS
from workflows.regulations.shuttle_cart.people import DEMO

CLAUSES = (
    Clause("1–2", "目的与范围", "guidance only"),
    Clause("3.1", "定车定人，岗位责任制", "case start (record cart_register), action assign_driver"),
    Clause("3.2", "出车前例行检查，发现问题马上反映", "daily task pre_trip_check (grid), record fault_report, task repair; trips refused while open or blocked"),
    Clause("3.3", "每天下班保养：充电、电池水、刹车、方向", "daily task end_of_day_care (grid), record end_of_day_record"),
    Clause("3.4", "每天保持车辆清洁与美观", "end_of_day_care (cleaned)"),
    Clause("4.1", "严格执行安全操作规定，禁止超载", "trip refused over the cart's seats; rules on the check"),
    Clause("4.2", "按规定路线、速度，不出小区，不得转借", "action trip: 转借 refused, record lending_record; action report_violation"),
    Clause("4.3", "禁止疲劳、酒后驾驶；客人坐稳、停稳", "rules on the check; action report_violation"),
    Clause("5.1", "违章造成破损、伤害：司机负责，不得报销，赔偿修理费", "ledger charge to the driver (violation, repair cost)"),
    Clause("5.2", "违章转借：一切后果由当班司机负责", "ledger row on the driver's account; violation lending"),
)  # fmt: skip

ENTRY = regulation(
    ShuttleCartWorkflow,
    title=("客户看楼车（电瓶车）管理规定", "Shuttle carts"),
    source="seed/000_76f73c1f8f00814b.txt lines 199–236 (第3篇)",
    start_roles=("supervisor",),
    people={"driver": "driver", "supervisor": "supervisor"},
    workflow_id=lambda i: f"shuttle-cart-{i.cart_id}",
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
