"""R12 `resident` — 荔园小区客户管理规定: its registry entry, clause list and the reception
etiquette shown to receptionists (guidance only)."""

from __future__ import annotations

import re

from workflows.registry import Clause, Guidance, ScheduleSpec, regulation
from workflows.regulations.resident.clauses import ResidentWorkflow
from workflows.regulations.resident.forms import ResidentInput
from workflows.regulations.resident.labels import LABELS
from workflows.regulations.resident.people import DEMO

CLAUSES = (
    Clause("一", "按栋按单元号每套房建立住户档案（所列资料），建议双档案", "case_kind archive: tasks archive_documents, archive_supplement; record resident_archive; archive_view"),
    Clause("二.1", "全体管理处人员均可接受投诉（首接责任制）", "case_kind customer_contact started by any staff (case.started_by = 首接人)"),
    Clause("二.2", "第一接待人反馈办公室，三分钟内派人到客户指定地点", "task dispatch_staff (dispatch_within 3 min), breach to office_head"),
    Clause("二.3", "服务中心接待员是接待投诉的主要人员", "start role receptionist; guidance"),
    Clause("二.4", "距工作台 3 米起身接待，起身顺序左2、右2、左1、右1", "guidance only (receptionist's work page)"),
    Clause("二.5", "客户走到谁的工作台前由谁接待", "guidance only"),
    Clause("二.6", "不在分工内的需求礼貌介绍给同事", "guidance only"),
    Clause("二.7", "第一时间登记《客户沟通登记表》并复述确认；当场解决或承诺服务时间", "task comm_register (read_back_confirmed, promised_at), task promised_service due the promised time"),
    Clause("二.8", "客户离去时起立鞠躬道别", "guidance only"),
    Clause("三.1", "接待员将投诉交相关人员处理并记录", "task comm_register, task dispatch_staff / promised_service"),
    Clause("三.2", "需时间处理的必须承诺处理时间", "task promised_service (due = promised_at)"),
    Clause("三.3", "按服务礼仪标准上门服务", "guidance only"),
    Clause("三.4", "处理过程及时记录在《客户沟通登记表》", "record communication_followup"),
    Clause("四.1", "事事有处理，件件有记录", "every request is registered and closed by a task"),
    Clause("四.2", "抽取 10% 投诉回访，至少 30% 上门并有客户签字", "schedule resident-complaint-revisit (case_kind revisit_sampling): seeded sample, task complaint_revisit, customer signature on site"),
    Clause("四.3", "上门回访严格按服务礼仪标准", "guidance only"),
)  # fmt: skip

ETIQUETTE = Guidance(
    "receptionist",
    "接待礼仪（荔园小区客户管理规定 二.3–二.8）",
    "R12 二.4–二.8",
    (
        "做好接待准备工作；服务中心接待员是接待客户投诉的主要人员。",
        "看见客户进入服务中心、距离工作台 3 米时起身接待。",
        "一般一名工作人员接待同一人（群体），其他未起身的工作人员专注工作或微笑致意；"
        "起身接待顺序为左2、右2、左1、右1（有工作任务的不必起身）。",
        "客户走到谁的工作台前，就由谁负责接待，主动问询有何服务需求。",
        "需求不在自己分工内的，礼貌地介绍给负责此项工作的同事；该同事马上起立问好并接待。",
        "投诉或需求第一时间登记在《客户沟通登记表》上，并重复一遍让客户确认。",
        "客户离去时起立鞠躬、礼貌道别，客户走出服务中心大门后方可坐下。",
    ),
)


def _archive_key(inp: ResidentInput) -> str | None:
    """One archive per flat: `resident-archive-<栋>-<单元>`; every other case takes a number."""
    if inp.case_kind != "archive":
        return None
    part = lambda v: re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]+", "_", v)  # noqa: E731
    return f"resident-archive-{part(inp.building)}-{part(inp.unit_no)}"


ENTRY = regulation(
    ResidentWorkflow,
    title=("荔园小区客户管理规定", "Liyuan residents"),
    source="seed/000_76f73c1f8f00814b.txt lines 1279–1319 (第14篇)",
    start_roles=("staff", "receptionist", "office", "office_head"),
    workflow_id=_archive_key,
    schedules=(
        ScheduleSpec(
            "resident-complaint-revisit",
            "客户投诉回访抽样（每月）",
            "zhidu.resident",
            {"case_kind": "revisit_sampling"},
            cron="0 9 1 * *",
        ),
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
    guidance=(ETIQUETTE,),
)
