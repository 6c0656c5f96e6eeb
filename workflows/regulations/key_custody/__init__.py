"""R7 `key-custody` — 客户托管钥匙管理规定: its registry entry, made from this folder
(clauses.py, forms.py, labels.py, people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.key_custody.clauses import KeyCustodyWorkflow
from workflows.regulations.key_custody.labels import LABELS
from workflows.regulations.key_custody.people import DEMO

CLAUSES = (
    Clause("1", "客户维修期间将钥匙暂交物业部管理", "case start, record key_handover; task key_return (customer signature)"),
    Clause("2", "物业部经理、保安部主管批准，专人保管，封存于钥匙箱", "approval key_accept (joint), task seal_key, record key_register"),
    Clause("3", "逐一登记造册《钥匙托管表》，每周由物业部核对一次", "recurring key_audit, record key_audit, task key_incident"),
    Clause("4", "每次使用填《钥匙使用登记薄》，物业部、保安部同时签字批准", "record key_use_request, approval key_use (joint)"),
    Clause("5", "物业助理领取，同保安部人员（二人以上）现场开封", "tasks key_collect and key_open_guard (two accounts)"),
    Clause("6", "现场监护；搬动物品绘平面图、登记，完工恢复原位", "task key_work, record key_items"),
    Clause("7", "施工前《使用客户托管钥匙入室登记表》三方签字", "record entry_form, tasks entry_sign_security / property / lead"),
    Clause("8", "用完共同封好交回保安部钥匙箱，填《封存钥匙登记表》", "tasks key_reseal and key_reseal_confirm, record key_reseal, breach key_not_returned"),
)  # fmt: skip

ENTRY = regulation(
    KeyCustodyWorkflow,
    title=("客户托管钥匙管理规定", "Customer key custody"),
    source="seed/000_76f73c1f8f00814b.txt lines 615–633 (第7篇)",
    start_roles=("property_dept_manager", "key_custodian", "key_assistant"),
    people={"custodian": "key_custodian"},
    workflow_id=lambda i: f"key-custody-{i.key_no}",
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
