"""R10's roles (司机, 车队长 / 车管组组长, 客户服务部主任, 办公室（车队）, 经理室) and the demo people
who hold them."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "driver": ("司机", "Driver"),
        "fleet_leader": ("车队长", "Fleet leader"),
        "director": ("主任", "Director"),
        "vehicle_office": ("办公室（车队）", "Office (fleet)"),
        "vehicle_mgr_office": ("经理室", "Manager's office"),
    },
)

DEMO = (
    DemoPerson("driver", "朱师傅", ("driver",), "车队"),
    DemoPerson("fleet", "胡永", ("fleet_leader",), "车队"),
    DemoPerson("director", "何志强", ("director",), "物业服务中心"),
    DemoPerson("vehdriver2", "韦立军", ("driver",), "车队"),
    DemoPerson("vehoffice", "卢文斌", ("vehicle_office",), "办公室（车队）"),
    DemoPerson("vehmgroffice", "覃国栋", ("vehicle_mgr_office",), "经理室"),
)
