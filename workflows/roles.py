"""The role codes of REGULATIONS.md: code -> (Chinese, English). One table for the workflows
(task titles, refusals) and the starter (users, CLI, API)."""

from __future__ import annotations

ROLES: dict[str, tuple[str, str]] = {
    "staff": ("销售/客服人员", "Sales / service staff"),
    "supervisor": ("部门主管", "Department supervisor"),
    "clerk": ("销售/客服文员", "Clerk"),
    "division_leader": ("分管领导", "Division leader"),
    "president_office": ("总裁办", "President's office"),
    "quality_specialist": ("质量与技术管理专员", "Quality & technology specialist"),
    "rd": ("研发技术部门", "R&D"),
    "finance": ("财务管理部", "Finance"),
    "admin": ("系统管理员", "Administrator"),
}
