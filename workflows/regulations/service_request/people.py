"""R4's roles (前台接待员, 部门主管, 专业部门负责人, 维修人员, 物业服务中心负责人, 主任, 区域管理员)
and the demo people who hold them (the shared table of the brief)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "receptionist": ("前台接待员", "Receptionist"),
        "supervisor": ("部门主管", "Department supervisor"),
        "department_head": ("部门负责人", "Department head"),
        "technician": ("维修人员", "Maintenance worker"),
        "center_head": ("物业服务中心负责人", "Service-center head"),
        "director": ("主任", "Director"),
        "area_manager": ("区域管理员", "Area manager"),
    },
    # The director may act in the service-center head's place (4.4.1, 5.2.4).
    above={"center_head": ("director",)},
)

DEMO = (
    DemoPerson("receptionist", "吴芳", ("receptionist",), "客户服务中心"),
    DemoPerson("supervisor", "李国华", ("supervisor",), "客户服务部"),
    DemoPerson("depthead", "郑伟", ("department_head",), "工程部"),
    DemoPerson("tech", "马师傅", ("technician",), "工程部"),
    DemoPerson("centerhead", "冯涛", ("center_head",), "物业服务中心"),
    DemoPerson("director", "何志强", ("director",), "物业服务中心"),
    DemoPerson("area", "许明", ("area_manager",), "物业服务中心"),
)
