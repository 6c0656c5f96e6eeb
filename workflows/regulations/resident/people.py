"""R12's roles (管理处人员, 服务中心接待员, 管理处办公室, 办公室主任) and the demo people who hold them."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "receptionist": ("前台接待员", "Receptionist"),
        "office": ("管理处办公室", "Management office"),
        "office_head": ("管理处办公室主任", "Head of the management office"),
    },
    # The office head may act in the office's place.
    above={"office": ("office_head",)},
)

DEMO = (
    DemoPerson("staff", "张晓明", ("staff",), "客户服务部"),
    DemoPerson("receptionist", "吴芳", ("receptionist",), "客户服务中心"),
    DemoPerson("office", "邓敏", ("office",), "管理处"),
    DemoPerson("officehead-r12", "林荔君", ("office_head",), "管理处"),
)
