"""R2's roles (需求部门负责人, 销售管理部, 销售总监, 副总, 总经理, 申请人) and their demo people
(the shared table's)."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "department_head": ("部门负责人", "Department head"),
        "sales_admin": ("销售管理部", "Sales management dept."),
        "sales_director": ("销售总监", "Sales director"),
        "vice_president": ("副总裁", "Vice president"),
        "general_manager": ("总经理", "General manager"),
    }
)

DEMO = (
    DemoPerson("staff", "张晓明", ("staff",), "客户服务部"),
    DemoPerson("depthead", "郑伟", ("department_head",), "工程部"),
    DemoPerson("salesadmin", "宋佳", ("sales_admin",), "销售管理部"),
    DemoPerson("salesdir", "唐斌", ("sales_director",), "销售部"),
    DemoPerson("vp", "蒋立新", ("vice_president",), "公司领导"),
    DemoPerson("gm", "彭建华", ("general_manager",), "总经办"),
)
