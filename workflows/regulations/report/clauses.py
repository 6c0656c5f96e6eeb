"""Periodic reports over many cases (统计报告), started by Temporal Schedules that the registry
declares (e.g. R1's monthly revisit statistics, 09:00 on the 1st).

A report case takes the previous full period (day, week or month, China time) at its start,
asks the `zhidu.report` activity for the figures, writes them as a record and notifies the
recipients. Its id is the schedule's, with the start time Temporal appends.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from workflows.calendar import add_months
    from workflows.engine import CasePolicy, CaseWorkflow
    from workflows.model import CHINA_TZ, CaseStart, Form
    from workflows.spec import on_result

CODE = "report"


class ReportInput(Form):
    report: str = Field("case_statistics", min_length=1, max_length=64, description="报表")
    title: str = Field(min_length=1, max_length=200, description="标题")
    regulation: str | None = Field(None, max_length=50, description="制度（空 = 全部）")
    period: Literal["day", "week", "month"] = Field("month", description="统计周期")
    recipients: list[Annotated[str, Field(max_length=80)]] = Field(
        default_factory=list, max_length=20, description="接收人（用户名或 role:角色）"
    )


def previous_period(now: datetime, period: str) -> tuple[datetime, datetime]:
    """The last full day / week (Monday to Sunday) / month before `now`, China time."""
    today = datetime.combine(now.astimezone(CHINA_TZ).date(), time(0), CHINA_TZ)
    if period == "day":
        return today - timedelta(days=1), today
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday
    first = today.replace(day=1)
    return add_months(first, -1), first


@workflow.defn(name="zhidu.report")
class ReportWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "{title}"
    INPUT = ReportInput
    POLICY = CasePolicy
    CUSTOMER_FIELD = None
    inp: ReportInput

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        start, end = previous_period(self.now, self.inp.period)
        self.event("report_requested", None, None, period_start=start, period_end=end)
        self.run_job(
            "zhidu.report",
            {
                "report": self.inp.report,
                "regulation": self.inp.regulation,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
            },
            "figures",
            period_start=start.isoformat(),
            period_end=end.isoformat(),
        )

    @on_result("figures")
    def _figures(self, figures: dict[str, Any], period: dict[str, Any]) -> None:
        rid = self.record(
            f"report_{self.inp.report}",
            f"《{self.inp.title}》",
            {**period, "regulation": self.inp.regulation, "figures": figures},
            created_by="system",
        )
        rate = figures.get("on_time_rate")
        line = f"按时完成率：{rate:.1%}" if isinstance(rate, float) else "本期无到期任务"
        for who in self.inp.recipients:
            self.notify(
                f"report/{who}",
                who,
                f"【统计】{self.inp.title}",
                f"{period['period_start'][:10]} — {period['period_end'][:10]}\n{line}\n记录：{rid}",
            )
        self.finish("done")
