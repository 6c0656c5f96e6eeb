"""R8's roles (客服部 as the customer-service center, 管业经理, 投诉中心主任, 物业管理员 of the
management office, 部门负责人, 管理处办公室, 物业服务中心负责人) and the demo people who hold them."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "customer_service": ("客服部", "Customer service dept."),
        "property_business_manager": ("管业经理", "Property business manager"),
        "complaint_director": ("投诉中心主任", "Complaint center director"),
        "property_manager": ("物业管理员", "Property manager"),
        "department_head": ("部门负责人", "Department head"),
        "office": ("管理处办公室", "Management office"),
        "center_head": ("物业服务中心负责人", "Service-center head"),
    },
)

DEMO = (
    DemoPerson("cs", "袁芳", ("customer_service",), "客服部"),
    DemoPerson("bizmgr8", "欧阳振华", ("property_business_manager",), "管业部"),
    DemoPerson("cpdir8", "柏晓岚", ("complaint_director",), "客户服务中心"),
    DemoPerson("propmgr", "梁红", ("property_manager",), "物业部"),
    DemoPerson("depthead", "郑伟", ("department_head",), "工程部"),
    DemoPerson("office", "邓敏", ("office",), "管理处"),
    DemoPerson("centerhead", "冯涛", ("center_head",), "物业服务中心"),
)
