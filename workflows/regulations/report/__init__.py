"""The periodic report case (统计报告) the schedules start: its registry entry."""

from __future__ import annotations

from workflows.labels import Labels
from workflows.registry import Clause, regulation
from workflows.regulations.report.clauses import ReportWorkflow

ENTRY = regulation(
    ReportWorkflow,
    title=("统计报告", "Periodic report"),
    source="REGULATIONS.md, cross-cutting rules: reports",
    start_roles=("admin",),
    labels=Labels(
        events={"report_requested": ("统计开始", "Report requested")},
        fields={
            "report": "报表",
            "regulation": "制度",
            "period": "统计周期",
            "period_start": "统计开始",
            "period_end": "统计结束",
            "figures": "统计数字",
            "recipients": "接收人",
        },
        enums={"day": ("日", "Day"), "week": ("周", "Week"), "month": ("月", "Month")},
    ),
    clauses=(
        Clause("报告", "周期统计：按时完成率等，记录并通知", "the report case and its schedules"),
    ),
)
