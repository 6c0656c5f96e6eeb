"""R6's roles (管理中心, 客务部, 物业管理员, 财务管理部) and the demo people who hold them. The
customer and the contractor's 施工负责人 are not users: they sign by drawing or one-time code."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "management_center": ("管理中心", "Management center"),
        "client_affairs": ("客务部", "Client affairs"),
        "property_manager": ("物业管理员", "Property manager"),
        "finance": ("财务管理部", "Finance"),
    }
)

DEMO = (
    DemoPerson("mgmtcenter", "庞振东", ("management_center",), "管理中心"),
    DemoPerson("clientaffairs", "柏雅琴", ("client_affairs",), "客务部"),
    DemoPerson("propmgr", "梁红", ("property_manager",), "物业部"),
    DemoPerson("finance", "孙会计", ("finance",), "财务管理部"),
)
