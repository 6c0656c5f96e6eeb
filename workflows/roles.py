"""The role codes of REGULATIONS.md: code -> (Chinese, English). One table for the workflows
(task titles, refusals) and the starter (users, CLI, API)."""

from __future__ import annotations

from collections.abc import Iterable

ROLES: dict[str, tuple[str, str]] = {
    # R1 客户回访
    "staff": ("销售/客服人员", "Sales / service staff"),
    "supervisor": ("部门主管", "Department supervisor"),
    "clerk": ("销售/客服文员", "Clerk"),
    "division_leader": ("分管领导", "Division leader"),
    "president_office": ("总裁办", "President's office"),
    "quality_specialist": ("质量与技术管理专员", "Quality & technology specialist"),
    "rd": ("研发技术部门", "R&D"),
    "finance": ("财务管理部", "Finance"),
    # R2, R4–R7 and the other regulations
    "receptionist": ("前台接待员", "Receptionist"),
    "center_head": ("物业服务中心负责人", "Service center head"),
    "director": ("主任", "Director"),
    "department_head": ("部门负责人", "Department head"),
    "company_leader": ("公司领导", "Company leader"),
    "board": ("董事会", "Board"),
    "vice_president": ("副总裁", "Vice president"),
    "general_manager": ("总经理", "General manager"),
    "sales_admin": ("销售管理部", "Sales administration"),
    "property_manager": ("物业经理", "Property manager"),
    "security_supervisor": ("保安主管", "Security supervisor"),
    "admin": ("系统管理员", "Administrator"),
}


def role_zh(code: str) -> str:
    """A role's Chinese name (the code itself when it is not a known role)."""
    return ROLES[code][0] if code in ROLES else code


# Who may act in a role's place on a case: the role above it (a division leader for a
# department supervisor, the director for a center head, a company leader for a department head).
ROLES_ABOVE: dict[str, tuple[str, ...]] = {
    "supervisor": ("division_leader",),
    "center_head": ("director",),
    "department_head": ("company_leader",),
}


def outranks(roles: Iterable[str], role: str) -> bool:
    """Whether one of `roles` stands above `role` (may act in its place)."""
    return bool(set(ROLES_ABOVE.get(role, ())) & set(roles))
