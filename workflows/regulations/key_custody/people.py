"""R7's roles (物业部经理, 保安主管, 钥匙保管员, 物业助理, 保安员, 施工负责人) and their demo
people: the shared table's 保安主管, and new people of this regulation only."""

from __future__ import annotations

from workflows.roles import DemoPerson, RoleBook

ROLES = RoleBook(
    {
        "property_dept_manager": ("物业部经理", "Property dept. manager"),
        "security_supervisor": ("保安主管", "Security supervisor"),
        "key_custodian": ("托管钥匙保管员", "Key custodian"),
        "key_assistant": ("物业助理", "Property assistant"),
        "key_guard": ("保安员", "Security guard"),
        "key_work_lead": ("施工负责人", "Work lead"),
    }
)

DEMO = (
    DemoPerson("propdept7", "葛建业", ("property_dept_manager",), "物业部"),
    DemoPerson("security", "罗刚", ("security_supervisor",), "保安部"),
    DemoPerson("keykeeper7", "钱保管", ("key_custodian",), "保安部"),
    DemoPerson("propassist7", "柏晓东", ("key_assistant",), "物业部"),
    DemoPerson("guard7", "尹大勇", ("key_guard",), "保安部"),
    DemoPerson("worklead7", "卜建国", ("key_work_lead",), "工程部"),
)
