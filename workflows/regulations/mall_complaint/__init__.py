"""R11 `mall-complaint` — 商场商铺客户投诉处理管理规定: its registry entry and clause list."""

from __future__ import annotations

from workflows.registry import Clause, ScheduleSpec, regulation
from workflows.regulations.mall_complaint.clauses import MallComplaintWorkflow
from workflows.regulations.mall_complaint.labels import LABELS
from workflows.regulations.mall_complaint.people import DEMO

CLAUSES = (
    Clause("一.1", "商管部：调查、提报、拟定责任人员；检验确认；迅速传达处理结果", "tasks accept, reply (《客户投诉处理单》)"),
    Clause("一.2", "客服部：登记、时效管理及逾期反应、审核、追踪改善", "record 《客户投诉登记表》, task close, 《催办单》, 《洽办单》"),
    Clause("二.1", "服务中心接到投诉反馈到商管部", "case start, record mall_complaint_intake, task accept"),
    Clause("二.2", "调查原因、责任，处理决定告知客户", "task reply (cause, responsibility, decision, customer_told)"),
    Clause("二.3", "上门维修或退回处理", "task reply (handling)"),
    Clause("二.4", "投诉的改善", "task reply (improvement)"),
    Clause("二.5", "客户服务跟踪、记录", "task close, record mall_complaint_close"),
    Clause("三.1", "自商管部受理起 24 小时内答复客户", "task reply (reply_within)"),
    Clause("三.2", "根据具体情况确定处理期限", "task accept (case_deadline), task reply's due"),
    Clause("四.1", "每月10日前审视上月结案案件，行政处分送人事部门处罚并公布", "schedule mall-complaint-monthly-review, tasks review, hr_penalty"),
    Clause("四.2", "《奖罚通知单》呈总经理核准后复印三份", "approval notice (general_manager), ledger, tasks notice_copy ×3"),
    Clause("五", "逾期开立《催办单》；结案逾期开立《洽办单》追查原因", "breach of reply + wake-up urge (urge_every), record qiaoban_note, task explain_delay"),
)  # fmt: skip

ENTRY = regulation(
    MallComplaintWorkflow,
    title=("商场商铺客户投诉处理管理规定", "Mall and shop complaints"),
    source="seed/000_76f73c1f8f00814b.txt lines 851–915 (第11篇)",
    start_roles=("front_desk", "customer_service"),
    schedules=(
        ScheduleSpec(
            "mall-complaint-monthly-review",
            "上月结案客户投诉审视（每月10日前）",
            "zhidu.mall-complaint",
            {"case_kind": "review"},
            cron="0 9 1 * *",
        ),
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
