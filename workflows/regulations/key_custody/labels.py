"""R7's words on the pages: outcomes, events and their sentences, fields, record titles and
each record's field order."""

from __future__ import annotations

from workflows.labels import Labels

LABELS = Labels(
    outcomes={
        "key_sealed": ("已封存", "Sealed in the box"),
        "checked": ("已核对", "Checked"),
        "handled": ("已处理", "Handled"),
        "opened": ("已开封", "Opened"),
        "sign_off": ("签字确认", "Sign off"),
        "resealed": ("已重新封存", "Resealed"),
        "confirmed": ("已确认", "Confirmed"),
        "returned": ("已交还", "Returned"),
    },
    events={
        "seal_discrepancy": ("封条异常", "Seal discrepancy"),
        "return_requested": ("申请交还钥匙", "Return requested"),
    },
    sentences={
        "seal_discrepancy": (
            "[{actor} ]发现托管钥匙封条异常：{problem}",
            "[{actor} ]found a seal discrepancy: {problem}",
        ),
        "return_requested": (
            "{actor} 申请将钥匙交还客户[：{note}]",
            "{actor} asked to return the key[: {note}]",
        ),
    },
    enums={
        "pending": ("待接收", "Pending"),
        "held": ("封存于钥匙箱", "Held"),
        "in_use": ("使用中", "In use"),
        "handed_over": ("客户交钥匙", "Handed over"),
        "not_accepted": ("未接收", "Not accepted"),
        "collected": ("领取开封", "Collected"),
    },
    fields={
        "key_no": "钥匙编号",
        "customer_name": "客户名称",
        "room": "房号",
        "reason": "托管原因",
        "custodian": "保管人",
        "key_count": "钥匙把数",
        "seal_no": "封条编号",
        "box_slot": "钥匙箱位置",
        "week": "周次",
        "seal_no_seen": "所见封条编号",
        "seal_intact": "封条完好",
        "work": "施工内容",
        "assistant": "物业助理",
        "guard": "保安部人员",
        "work_lead": "施工负责人",
        "old_seal_no": "原封条编号",
        "new_seal_no": "新封条编号",
        "items_moved": "搬动物品",
        "layout": "物品摆放平面图",
        "layout_drawing": "物品摆放平面图（手绘）",
        "restored": "已恢复原位",
        "due_at": "截止时间",
        "steps": "保管经过",
        "return_record": "交还签收记录",
        "holder": "保管人",
        "action": "经过",
        "at": "时间",
        "by": "经办人",
        "with_guard": "会同保安",
        "problem": "异常情况",
        "status": "状态",
        "uses": "使用次数",
    },
    persons={"assistant": "key_assistant", "guard": "key_guard", "work_lead": "key_work_lead"},
    records={
        "key_handover": ("托管钥匙交接单", "Key hand-over"),
        "key_register": ("《钥匙托管表》", "Key custody register"),
        "key_audit": ("托管钥匙核对记录", "Key audit"),
        "key_use_request": ("《钥匙使用登记薄》", "Key use register"),
        "entry_form": ("《使用客户托管钥匙入室登记表》", "Entry form"),
        "key_items": ("物品登记及摆放平面图", "Items moved and layout"),
        "key_reseal": ("《封存钥匙登记表》", "Key reseal register"),
        "key_not_returned": ("钥匙逾期未交回记录", "Key not returned in time"),
        "key_returned": ("托管钥匙交还客户签收", "Key returned to the customer"),
        "custody_chain": ("《托管钥匙保管链》", "Chain of custody"),
    },
    layouts={
        "key_register": (
            "key_no",
            "customer_name",
            "room",
            "reason",
            "key_count",
            "custodian",
            "seal_no",
            "box_slot",
            "note",
        ),
        "key_audit": ("key_no", "room", "week", "seal_no", "seal_no_seen", "seal_intact", "note"),
        "key_reseal": ("key_no", "room", "work", "old_seal_no", "new_seal_no", "note"),
        "custody_chain": ("key_no", "customer_name", "room", "custodian", "steps", "return_record"),
    },  # fmt: skip
)
