"""R11's roles (服务中心前台, 商管部, 客服部, 总经理, 人力资源部, 财务（会计）, 罚扣部门负责人) and the demo
people who hold them (the shared role table's codes and people)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "front_desk": ("客户中心前台", "Customer-center front desk"),
        "mall_management": ("商管部", "Mall management"),
        "customer_service": ("客服部", "Customer service dept."),
        "general_manager": ("总经理", "General manager"),
        "hr": ("人力资源部", "Human resources"),
        "finance": ("财务管理部", "Finance"),
        "department_head": ("部门负责人", "Department head"),
    }
)

DEMO = (
    DemoPerson("frontdesk", "周敏", ("front_desk",), "客户服务中心"),
    DemoPerson("mallmgmt", "董丽", ("mall_management",), "商管部"),
    DemoPerson("cs", "袁芳", ("customer_service",), "客服部"),
    DemoPerson("gm", "彭建华", ("general_manager",), "总经办"),
    DemoPerson("hr", "沈洁", ("hr",), "人力资源部"),
    DemoPerson("finance", "孙会计", ("finance",), "财务管理部"),
    DemoPerson("depthead", "郑伟", ("department_head",), "工程部"),
)
