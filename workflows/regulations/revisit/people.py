"""R1's roles (销售人员/客户服务人员, 部门主管, 文员, 分管领导, 总裁办, 研发, 质量专员, 财务) and the
demo people who hold them."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "supervisor": ("部门主管", "Department supervisor"),
        "clerk": ("销售/客服文员", "Clerk"),
        "division_leader": ("分管领导", "Division leader"),
        "president_office": ("总裁办", "President's office"),
        "quality_specialist": ("质量与技术管理专员", "Quality & technology specialist"),
        "rd": ("研发技术部门", "R&D"),
        "finance": ("财务管理部", "Finance"),
    },
    # A division leader may act in a department supervisor's place.
    above={"supervisor": ("division_leader",)},
)

DEMO = (
    DemoPerson("staff", "张晓明", ("staff",), "客户服务部"),
    DemoPerson("supervisor", "李国华", ("supervisor",), "客户服务部"),
    DemoPerson("clerk", "王丽", ("clerk",), "客户服务部"),
    DemoPerson("division", "赵建国", ("division_leader",), "公司领导"),
    DemoPerson("president", "陈静", ("president_office", "quality_specialist"), "总裁办"),
    DemoPerson("rd", "刘工", ("rd",), "研发技术部"),
    DemoPerson("finance", "孙会计", ("finance",), "财务管理部"),
)
