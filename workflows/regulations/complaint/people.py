"""R5's roles (客户中心前台, 部门负责人, 管理处负责人, 物业公司主管领导, 董事领导, 发展商客户服务部, and
any employee as 首问人) and the demo people who hold them (the brief's shared table; the
developer's customer service is R5's own)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "front_desk": ("客户中心前台", "Customer-center front desk"),
        "department_head": ("部门负责人", "Department head"),
        "center_head": ("物业服务中心负责人", "Service-center head"),
        "company_leader": ("物业公司主管领导", "Company leader"),
        "board": ("董事领导", "Board leader"),
        "developer_cs": ("发展商客户服务部", "Developer's customer service"),
        "general_manager": ("总经理", "General manager"),
    },
)

DEMO = (
    DemoPerson("staff", "张晓明", ("staff",), "客户服务部"),
    DemoPerson("frontdesk", "周敏", ("front_desk",), "客户服务中心"),
    DemoPerson("depthead", "郑伟", ("department_head",), "工程部"),
    DemoPerson("centerhead", "冯涛", ("center_head",), "物业服务中心"),
    DemoPerson("leader", "韩雪", ("company_leader",), "公司领导"),
    DemoPerson("board", "曹国庆", ("board",), "董事办"),
    DemoPerson("gm", "彭建华", ("general_manager",), "总经办"),
    DemoPerson("devcs5", "欧阳发五", ("developer_cs",), "发展商客户服务部"),
)
