"""R7 `key-custody` — what people type: the hand-over of a key (the case input), the policy
(every number of the regulation), and the data of each task's outcomes. The clauses are in
clauses.py beside it.

A module of its own, stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Attachment, Deadline, Form
from workflows.spec import TaskData

SealNo = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
User = Annotated[str, Field(min_length=1, max_length=64)]


class KeyCustodyInput(Form):
    """A customer hands a key to 物业部 for repairs."""

    key_no: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="钥匙编号")
    customer_name: str = Field(min_length=1, max_length=200, description="客户名称")
    room: str = Field(min_length=1, max_length=100, description="房号")
    reason: str = Field(min_length=2, max_length=1000, description="托管原因（维修事项）")
    custodian: User = Field(description="专人保管（用户名）")
    key_count: int = Field(1, ge=1, le=50, description="钥匙把数")


class KeyCustodyPolicy(CasePolicy):
    audit_every: Deadline = Field(
        Deadline(days=7), description="核对周期：3 托管钥匙定期（一周）由物业部核对一次"
    )
    audit_due: Deadline = Field(
        Deadline(end_of_day=True), description="核对期限：3 每次核对当天完成"
    )
    seal_due: Deadline = Field(
        Deadline(hours=4), description="封存期限：2 批准后交专人保管、封存于钥匙箱内"
    )
    key_back_by: Deadline = Field(
        Deadline(end_of_day=True), description="交回期限：8 领用当天用完封好交回保安部钥匙箱"
    )
    incident_due: Deadline = Field(
        Deadline(hours=24), description="异常处理期限：3 核对发现封条不符，两位负责人处理"
    )
    return_due: Deadline = Field(
        Deadline(working_days=2), description="归还期限：维修完成后将钥匙交还客户"
    )


class SealData(TaskData):
    seal_no: SealNo = Field(description="封条编号")
    box_slot: str = Field(min_length=1, max_length=50, description="钥匙箱位置")
    note: str = Field("", max_length=2000, description="备注")


class AuditData(TaskData):
    seal_no_seen: SealNo = Field(description="核对所见封条编号")
    seal_intact: bool = Field(description="封条完好")
    note: str = Field("", max_length=2000, description="备注")


class UseInput(Form):
    """《钥匙使用登记薄》: one use of the key."""

    actor: Actor
    work: str = Field(min_length=2, max_length=1000, description="施工内容")
    assistant: User = Field(description="物业助理（用户名）")
    guard: User = Field(description="保安部人员（用户名）")
    work_lead: User = Field(description="施工负责人（用户名）")

    @model_validator(mode="after")
    def _two_people(self) -> UseInput:
        if self.assistant == self.guard:
            raise ValueError("the key is opened by two people: the assistant and a guard differ")
        return self


class OpenData(TaskData):
    seal_no_seen: SealNo = Field(description="开封时所见封条编号")
    note: str = Field("", max_length=2000, description="备注")


class SignData(TaskData):
    note: str = Field("", max_length=2000, description="签字意见")


class MovedItem(Form):
    name: str = Field(min_length=1, max_length=100, description="物品")
    position: str = Field(min_length=1, max_length=200, description="原摆放位置")


class WorkData(TaskData):
    items_moved: list[MovedItem] = Field(
        default_factory=list, max_length=100, description="搬动物品"
    )
    layout: Attachment | None = Field(None, description="物品摆放平面图（上传）")
    layout_drawing: str | None = Field(
        None, max_length=200_000, pattern=r"^data:image/", description="物品摆放平面图（手绘）"
    )
    restored: bool = Field(False, description="施工完毕物品已恢复原位")
    note: str = Field("", max_length=2000, description="施工情况")


class ResealData(TaskData):
    new_seal_no: SealNo = Field(description="新封条编号")
    note: str = Field("", max_length=2000, description="备注")


class ConfirmSealData(TaskData):
    seal_no: SealNo = Field(description="确认封条编号")


class IncidentData(TaskData):
    action: str = Field(min_length=2, max_length=2000, description="处理情况")


class ReturnInput(Form):
    actor: Actor
    note: str = Field("", max_length=1000, description="说明")


class ReturnData(TaskData):
    note: str = Field("", max_length=2000, description="备注")


class KeyVars(BaseModel):
    status: str = "pending"  # pending | held | in_use | returned
    seal_no: str | None = None
    holder: str | None = None
    chain: list[dict[str, Any]] = Field(default_factory=list)
    uses: int = 0
