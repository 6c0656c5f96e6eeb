"""R9 `reception` — 客户接待业绩归属管理规定: its registry entry, made from this folder (the
clauses in clauses.py, the attribution rules in rules.py, the forms and policy in forms.py, the
words in labels.py, the roles and demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.reception.clauses import ReceptionWorkflow
from workflows.regulations.reception.labels import LABELS
from workflows.regulations.reception.people import DEMO

CLAUSES = (
    Clause("1", "按轮排表顺序接待，不得挑拣、争抢", "action walk_in (the queue)"),
    Clause("2", "补接：自己老客户或来电客户、同事老客户已查明、帮忙接待、另有安排", "action makeup_turn; walk_in serves make-up turns first"),
    Clause("3", "休班、事假、病假不能补接", "action leave; walk_in passes the turn"),
    Clause("4", "《客户登记本》；全名、电话、车的品牌牌照加姓，三者有其一", "action register_visit, record visit_register, rules.match_basis"),
    Clause("5", "《电话咨询登记本》；来电客户属于接听人", "action register_call, record call_register"),
    Clause("6", "新客户、老客户、一家人、公共客户的解释", "register_visit (public, family_of)"),
    Clause("7", "公共客户按轮排接待不占名额；事后确定则补接；再次来访购房按新客户", "walk_in public; makeup_turn public_after"),
    Clause("8", "老客户介绍来访的新客户", "guidance only (see 9)"),
    Clause("9", "原售楼员不在帮忙接待，当时成交二八分成", "rules.same_visit_split, record_deal same_visit"),
    Clause("10", "介绍客户冲突 7 天内按登记核实移交", "rules.referral_conflict"),
    Clause("11", "其他同事不许上前询问", "guidance only"),
    Clause("12(1)", "来电客户未找人按轮排，以电话服从接待", "register_visit (original a call)"),
    Clause("12(2)", "来电客户找某售楼员且在场，不占名额", "makeup_turn own_phone"),
    Clause("12(3)", "来电客户找的售楼员不在，当时成交二八分成", "rules.same_visit_split"),
    Clause("13", "发现他人客户应交回；抢客户取消佣金罚款 200–500 元", "register_visit knowingly; action report_grabbing, task grab_fine"),
    Clause("14", "一家（批）人以第一时间接待为准，超过 30 天按新客户", "rules.family_visit, register_visit family_of"),
    Clause("15", "不知情接待，距原始登记超过 60 天视为新客户", "rules.unknowingly_served"),
    Clause("16", "成交三天后发觉归成交人，三天内五五分成，超过 60 天视为新客户", "rules.discovered_after_deal"),
    Clause("17", "成交：已交定金且签认购书，以认购方为准", "rules.is_deal, action record_deal, record deal_record"),
    Clause("18", "团购客户按顺序接待，只在团购奖金中适度增加比例", "rules.group_purchase"),
    Clause("19", "不得私自放盘、转名、打折", "guidance only (hard_case)"),
    Clause("20", "疑难问题向销售经理汇报裁定", "action hard_case, task ruling, record ruling_record"),
    Clause("21", "《客户登记表》为提成第一证据，不得涂改销毁", "records only added (corrections are new entries); record commission_statement"),
)  # fmt: skip

ENTRY = regulation(
    ReceptionWorkflow,
    title=("客户接待业绩归属管理规定", "Sales reception and attribution"),
    source="seed/000_76f73c1f8f00814b.txt lines 731–808 (第9篇)",
    start_roles=("sales_manager",),
    people={"sales_manager": "sales_manager"},
    workflow_id=lambda i: f"reception-{i.office_id}",
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
