"""R6 `renovation` — 大厦客户二次装修管理规定: its registry entry, made from this folder (the
clauses in clauses.py, the forms and policy in forms.py, the words in labels.py, the roles and
demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.renovation.clauses import RenovationWorkflow
from workflows.regulations.renovation.forms import RenovationInput
from workflows.regulations.renovation.labels import LABELS
from workflows.regulations.renovation.people import DEMO

CLAUSES = (
    Clause("第1条", "按《二次装修管理手册》提交资料；未经管理中心书面同意不得装修；变更须重新申报；"
           "未经批准的施工管理中心有权停止",
           "case start (application, checklist), task application_review (signed approval), "
           "task supplement, action change_scope, action work_log (refused without approval), "
           "action stop_work, record stop_order"),
    Clause("第2条", "领取开工证后张贴于施工区域；施工人员佩带出入证，只在施工楼层活动",
           "task passes (ID, validity), task permit (refused before the agreements and passes)"),
    Clause("第3条", "每日按指定时间、位置、路线清运垃圾并密封；不得占用公共区域",
           "daily waste_check (recurrence at waste_removal_at), records of failed and missed checks"),
    Clause("第4、5条", "遵守保洁责任书、工程协议书、施工防火安全协议书、施工安全管理规定",
           "task agreement per policy agreement, signed by the customer and the contractor"),
    Clause("第6条", "批准期内不能完成的，到客务部办理延期装修手续",
           "wake-up at the approved end, task extension (客务部, the new end date)"),
    Clause("第7条", "完工（含整改）后7个工作日内申请验收；未验收或不合格迁入可暂停服务、动用抵押金整改；"
           "验收通过后退还抵押金",
           "task inspection_request (7 working days, breach recorded), task inspection, "
           "actions moved_in / suspend_services / use_deposit, record services_resumed at the "
           "pass, task refund, ledger deposit"),
)  # fmt: skip

ENTRY = regulation(
    RenovationWorkflow,
    title=("大厦客户二次装修管理规定", "Tenant renovation"),
    source="seed/000_76f73c1f8f00814b.txt lines 595–613 (第6篇)",
    start_roles=("client_affairs", "management_center"),
    contacts=lambda i: [p for p in (i.contact_phone, i.contractor_phone) if p],
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)

__all__ = ["ENTRY", "RenovationInput"]
