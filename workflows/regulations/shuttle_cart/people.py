"""R3's roles (司机, 部门主管, 维修人员) and the demo people who hold them (the brief's shared
table: the same codes and names as every other regulation)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "driver": ("司机", "Driver"),
        "supervisor": ("部门主管", "Department supervisor"),
        "technician": ("维修人员", "Maintenance worker"),
    }
)

DEMO = (
    DemoPerson("driver", "朱师傅", ("driver",), "车队"),
    DemoPerson("supervisor", "李国华", ("supervisor",), "客户服务部"),
    DemoPerson("tech", "马师傅", ("technician",), "工程部"),
)
