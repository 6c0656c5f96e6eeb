"""The engine's own words on the pages: generic outcomes, the timeline's events, the fields of
the generic forms (a note, a reason, a new due). A regulation's own words are in its folder
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
    },
)
