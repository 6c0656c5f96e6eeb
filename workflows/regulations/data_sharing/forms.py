"""R2 `data-sharing` — what people type: the request (the case input), the policy (every
number of the regulation), and the data of each task's outcomes. The clauses are in
clauses.py beside it.

A module of its own, stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Attachment, Deadline, DisciplineKind, Form
from workflows.spec import TaskData

Scope = Literal["internal", "group", "own_projects"]
Category = Annotated[str, Field(min_length=1, max_length=50)]
Project = Annotated[str, Field(min_length=1, max_length=100)]


class DataSharingInput(Form):
    """《客户资源需求申请单》: a department asks 销售管理部 for customer data."""

    request_no: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="申请单编号")
    department: str = Field(min_length=1, max_length=100, description="需求部门")
    department_head: str = Field(min_length=1, max_length=64, description="部门负责人（用户名）")
    requester: str = Field(min_length=1, max_length=64, description="申请人（用户名）")
    purpose: str = Field(min_length=2, max_length=1000, description="用途")
    categories: list[Category] = Field(min_length=1, max_length=20, description="资源种类")
    quantity: int = Field(ge=1, le=10_000_000, description="申请数量（条）")
    projects: list[Project] = Field(min_length=1, max_length=20, description="使用项目")
    scope: Scope = Field(
        "internal",
        description="internal 公司内部 / group 集团内调配 / own_projects 销售总监所辖项目之间调配",
    )
    sales_director: str | None = Field(
        None, max_length=64, description="销售总监（用户名；所辖项目之间调配时填写）"
    )

    @model_validator(mode="after")
    def _director_named(self) -> DataSharingInput:
        if self.scope == "own_projects" and not self.sales_director:
            raise ValueError("a reallocation between own projects names the sales director")
        return self


class DataSharingPolicy(CasePolicy):
    vice_president_up_to: int = Field(
        2000, ge=1, description="副总审批上限：二 b 公司内部需求量在此条数以内由副总批准"
    )
    review_due: Deadline = Field(
        Deadline(working_days=2), description="审核期限：二 销售管理部审核种类并确定数量"
    )
    sign_due: Deadline = Field(
        Deadline(working_days=1), description="部门领导签字期限：二 申请单经部门领导签字递交"
    )
    issue_due: Deadline = Field(
        Deadline(working_days=2), description="下发期限：二 审批后由销售管理部下发"
    )
    receipt_due: Deadline = Field(
        Deadline(working_days=1), description="签收期限：二 接收部门签字确认"
    )
    feedback_every: Deadline = Field(
        Deadline(days=7), description="反馈周期：二 定期（每周一次）反馈共享资源跟踪情况"
    )
    feedback_sanction: DisciplineKind = Field(
        "warning", description="缺反馈处分：二 资源无反馈，部门领导负主要责任（提议的处分）"
    )
    close_due: Deadline = Field(
        Deadline(working_days=2), description="结束确认期限：二 销售管理部同意结束反馈"
    )


class SignData(TaskData):
    note: str = Field("", max_length=2000, description="签字意见")


class ReviewData(TaskData):
    categories: list[Category] = Field(min_length=1, max_length=20, description="核定资源种类")
    fixed_quantity: int = Field(ge=1, le=10_000_000, description="核定数量（条）")
    note: str = Field("", max_length=2000, description="审核意见")


class RefuseData(TaskData):
    reason: str = Field(min_length=2, max_length=2000, description="不予受理理由")


class IssueData(TaskData):
    categories: list[Category] = Field(min_length=1, max_length=20, description="下发资源种类")
    count: int = Field(ge=1, le=10_000_000, description="下发条数")
    file: Attachment = Field(description="下发文件（只存文件摘要，不存客户资料）")
    note: str = Field("", max_length=2000, description="备注")


class FeedbackRow(Form):
    category: Category = Field(description="资源种类")
    followed: int = Field(ge=0, le=10_000_000, description="已跟踪条数")
    valid_customers: int = Field(ge=0, le=10_000_000, description="有效客户数")


class FeedbackData(TaskData):
    rows: list[FeedbackRow] = Field(default_factory=list, max_length=50, description="分类跟踪情况")
    spreadsheet: Attachment | None = Field(None, description="反馈表格（Excel）")
    new_customers_entered: int = Field(0, ge=0, description="按项目新客户录入系统的有效客户数")
    note: str = Field("", max_length=2000, description="备注")


class ConsentData(TaskData):
    note: str = Field("", max_length=2000, description="意见")


class CloseInput(Form):
    actor: Actor
    reason: str = Field(min_length=2, max_length=1000, description="结束理由")


class LeakInput(Form):
    actor: Actor
    description: str = Field(min_length=2, max_length=2000, description="资源流失情况")
    sanction: DisciplineKind = Field("major_demerit", description="提议的处分")
