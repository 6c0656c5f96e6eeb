"""The engine's own words on the pages: generic outcomes, the timeline's events and their
sentences, the fields of the generic forms (a note, a reason, a new due), the ledger's kinds,
the policy parameters every regulation has. A regulation's own words are in its folder
(labels.py); where both name a word, the regulation's wins."""

from __future__ import annotations

from workflows.labels import Labels

LABELS = Labels(
    outcomes={
        "done": ("完成", "Done"),
        "approve": ("批准", "Approve"),
        "reject": ("驳回", "Reject"),
        "resolved": ("已解决", "Resolved"),
        "escalate": ("上报", "Escalate"),
    },
    events={
        "case_started": ("案件发起", "Case started"),
        "run_continued": ("案件继续（新一轮运行）", "Run continued"),
        "task_opened": ("任务开启", "Task opened"),
        "task_completed": ("任务完成", "Task completed"),
        "task_cancelled": ("任务取消", "Task cancelled"),
        "task_paused": ("暂停计时", "Clock paused"),
        "task_resumed": ("恢复计时", "Clock resumed"),
        "deadline_extended": ("期限延长", "Deadline extended"),
        "deadline_moved": ("期限调整", "Deadline moved"),
        "deadline_recomputed": ("期限重新计算", "Deadline recomputed"),
        "reminder": ("到期提醒", "Reminder"),
        "breach": ("超期", "Breach"),
        "lapsed": ("失效", "Lapsed"),
        "record": ("生成记录", "Record"),
        "signed": ("签字", "Signed"),
        "ledger": ("台账登记", "Ledger entry"),
        "discipline_proposed": ("提出奖惩", "Sanction or reward proposed"),
        "discipline": ("奖惩登记", "Discipline register entry"),
        "approval_requested": ("提交审批", "Approval requested"),
        "escalated": ("上报", "Escalated"),
        "ladder_resolved": ("逐级上报结束（已解决）", "Escalation resolved"),
        "ladder_ended": ("逐级上报终止", "Escalation ended"),
        "attention": ("需要关注", "Needs attention"),
        "calendar_updated": ("工作日历更新", "Calendar updated"),
        "unit_opened": ("工作单元开启", "Unit opened"),
        "unit_closed": ("工作单元结束", "Unit closed"),
        "message_received": ("收到消息", "Message received"),
        "message_sent": ("发送消息", "Message sent"),
        "message_invalid": ("消息无法处理", "Message not handled"),
        "sampled": ("随机抽样", "Sampled"),
        "job_failed": ("后台作业失败", "Job failed"),
        "status": ("状态变更", "Status"),
        "occurrences_skipped": ("跳过的周期", "Occurrences skipped"),
    },
    # What the pages fill in: actor (a person's name, 系统 for the system), task (the title of
    # the task the event names), outcome, timing (截止前 2 天 / 超期 3 小时), record (the title
    # of the record it names), role, assignee; every other value is the event's own detail.
    sentences={
        "case_started": (
            "{actor} 发起案件[（编号 {number}）]",
            "{actor} started the case[ (no. {number})]",
        ),
        "run_continued": ("案件继续运行（第 {run} 轮）", "The case continued (run {run})"),
        "task_opened": (
            "新任务《{task}》[，由 {assignee} 办理][，需要 {role}][，{due_at} 截止]",
            "New task “{task}”[ for {assignee}][, needs {role}][, due {due_at}]",
        ),
        "task_completed": (
            "{actor} 完成《{task}》：{outcome}[，{timing}]",
            "{actor} completed “{task}”: {outcome}[, {timing}]",
        ),
        "task_cancelled": ("《{task}》已取消[：{reason}]", "“{task}” was cancelled[: {reason}]"),
        "task_paused": (
            "{actor} 暂停《{task}》的计时[：{reason}]",
            "{actor} paused the clock of “{task}”[: {reason}]",
        ),
        "task_resumed": (
            "{actor} 恢复《{task}》的计时[，截止时间顺延至 {due_at}][：{reason}]",
            "{actor} resumed the clock of “{task}”[, now due {due_at}][: {reason}]",
        ),
        "deadline_extended": (
            "{actor} 将《{task}》的截止时间[从 {old_due} ]延至 {new_due}[，理由：{reason}]",
            "{actor} extended “{task}”[ from {old_due}] to {new_due}[: {reason}]",
        ),
        "deadline_moved": (
            "《{task}》的截止时间调整为 {new_due}[：{reason}]",
            "“{task}” is now due {new_due}[: {reason}]",
        ),
        "deadline_recomputed": (
            "工作日历更新，《{task}》的截止时间重算为 {new_due}",
            "The calendar changed: “{task}” is now due {new_due}",
        ),
        "reminder": ("提醒：《{task}》将于 {due_at} 到期", "Reminder: “{task}” is due {due_at}"),
        "breach": ("《{task}》已超期（截止 {due_at}）", "“{task}” is overdue (due {due_at})"),
        "lapsed": ("《{task}》超期未办，已失效", "“{task}” lapsed"),
        "record": ("[{actor} ]生成{title}", "[{actor} ]wrote {title}"),
        "signed": ("{actor}（{role}）签署{record}", "{actor} ({role}) signed {record}"),
        "ledger": (
            "台账登记：{party} {kind} {amount_yuan} 元[（{rule}）]",
            "Ledger: {party} {kind} {amount_yuan} yuan[ ({rule})]",
        ),
        "discipline_proposed": (
            "{actor} 提出{kind}：{party}",
            "{actor} proposed {kind} for {party}",
        ),
        "discipline": (
            "奖惩登记：{party} {kind}[，{amount_yuan} 元][：{rule}]",
            "Register: {party} {kind}[, {amount_yuan} yuan][: {rule}]",
        ),
        "approval_requested": (
            "提交审批：{record}[，由 {roles} 审批]",
            "Approval requested: {record}[ by {roles}]",
        ),
        "*_approved": ("{actor}（{role}）批准{record}", "{actor} ({role}) approved {record}"),
        "*_rejected": (
            "{actor}（{role}）驳回{record}[：{reason}]",
            "{actor} ({role}) rejected {record}[: {reason}]",
        ),
        "escalated": (
            "逐级上报至第 {level} 级[（{role}）]",
            "Escalated to level {level}[ ({role})]",
        ),
        "ladder_resolved": (
            "[{actor} ]在第 {level} 级解决，逐级上报结束",
            "Resolved at level {level}[ by {actor}]",
        ),
        "ladder_ended": (
            "[{actor} ]终止逐级上报[：{reason}]",
            "[{actor} ]ended the escalation[: {reason}]",
        ),
        "attention": ("需要管理员关注：{reason}", "Needs an administrator: {reason}"),
        "calendar_updated": ("工作日历已更新[（{years} 年）]", "Calendar updated[ ({years})]"),
        "unit_opened": ("开始：{title}", "Started: {title}"),
        "unit_closed": ("结束：{unit}", "Finished: {unit}"),
        "message_received": ("收到消息[（来自 {sender}）]", "Message received[ from {sender}]"),
        "message_sent": ("已发送消息", "Message sent"),
        "message_invalid": ("收到的消息无法处理", "A message could not be handled"),
        "sampled": ("随机抽样：从 {population} 项中抽取", "Sampled from {population}"),
        "job_failed": ("后台作业失败，已通知管理员", "A job failed; the administrators were told"),
        "status": ("案件状态：{status}", "Case status: {status}"),
        "occurrences_skipped": ("跳过已过期的周期", "Past occurrences skipped"),
    },
    enums={  # the kinds of the discipline register (blocks/discipline.py)
        "warning": ("书面警告", "Written warning"),
        "demerit": ("记过", "Demerit"),
        "major_demerit": ("记大过", "Major demerit"),
        "demotion": ("降级", "Demotion"),
        "dismissal": ("开除", "Dismissal"),
        "commendation": ("嘉奖", "Commendation"),
        "merit": ("记小功", "Merit"),
        "major_merit": ("记大功", "Major merit"),
        "bonus": ("奖金", "Bonus"),
        # the ledger's kinds (workflows.model.LedgerKind)
        "fine": ("罚款", "Fine"),
        "charge": ("扣款", "Charge"),
        "criticism": ("批评", "Criticism"),
        "reward": ("奖励", "Reward"),
        "deposit_held": ("收取押金", "Deposit held"),
        "deposit_used": ("押金抵扣", "Deposit used"),
        "deposit_refunded": ("退还押金", "Deposit refunded"),
        "commission": ("提成", "Commission"),
        # who signs (workflows.spec.Sign) and who a ledger row is of
        "customer": ("客户", "Customer"),
        "person": ("个人", "Person"),
        "department": ("部门", "Department"),
    },
    # The parameters every regulation's policy has (workflows.engine.CasePolicy).
    params={
        "reminder_before": ("到期提醒提前量", "任务截止前多久提醒办理人"),
        "lapse_after": ("超期失效时限", "任务超过截止时间多久仍未办理即失效，案件继续"),
        "approval_due": ("审批时限", "每一级审批的办理期限"),
        "continue_as_new_after_events": (
            "案件历史分段长度（技术参数）",
            "案件历史事件达到此数后转入新一轮运行，使长期案件保持轻量；一般无需修改",
        ),
    },
    records={"discipline_proposal": ("《奖惩审批表》", "Sanction / reward approval")},
    fields={
        "content": "内容",
        "note": "备注",
        "reason": "理由",
        "new_due": "新截止时间",
        "amount": "金额",
        "amount_yuan": "金额（元）",
        "text": "内容",
        "phone": "电话",
        "comment": "意见",
        "receipts": "票据",
        "attachments": "附件",
        "tables": "统计表",
        "charts": "统计图",
        "record_id": "记录",
        "party": "对象",
        "rule": "依据",
    },
)
