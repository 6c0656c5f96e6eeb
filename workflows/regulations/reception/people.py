"""R9's roles (售楼员 — the shared staff role —, 销售经理) and the demo people who hold them: the
sales office of the demo has three salespeople (张晓明 of the shared table and two of R9's own)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "sales_manager": ("销售经理", "Sales manager"),
    }
)

DEMO = (
    DemoPerson("staff", "张晓明", ("staff",), "客户服务部"),
    DemoPerson("sales9a", "林晓燕", ("staff",), "售楼处"),
    DemoPerson("sales9b", "高志鹏", ("staff",), "售楼处"),
    DemoPerson("salesmgr9", "钱经理", ("sales_manager",), "售楼处"),
)
