"""The pages' words: Simplified Chinese first, English by the cookie `zhidu_lang=en` (EN maps
each Chinese text of the templates and pages to English); statuses, signature methods and the
flash messages; the labels and roles of the regulations the app serves (their folders' labels
merged over the engine's), set for each request by PageRoute (`words()`, `book()`)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import Request

from starter.people import Directory
from starter.wording import STATUS as STATUS
from starter.wording import Words, pick
from workflows.engine.labels import LABELS as ENGINE_LABELS
from workflows.labels import Labels, merge
from workflows.registry import RegulationEntry
from workflows.regulations import labels_of, roles_of
from workflows.roles import RoleBook

LANG_COOKIE = "zhidu_lang"

EN: dict[str, str] = {
    "制度": "zhidu",
    "顾客满意度征询表": "Customer questionnaire",
    "房号": "Flat",
    "各项服务满意度": "How well does each service serve you",
    "年龄段": "Age band",
    "性别": "Sex",
    "职业": "Occupation",
    "意见和建议（含最不满意处）": "Opinions and suggestions (what you like least)",
    "对未来服务的期望": "What you expect of our services",
    "提交成功": "Submitted",
    "感谢您的参与！您的意见将帮助我们改进服务。": "Thank you! Your answers help us serve you better.",
    "工作台": "My work",
    "新建": "Start a case",
    "案件": "Cases",
    "管理": "Admin",
    "用户": "Users",
    "政策参数": "Policy",
    "工作日历": "Calendar",
    "定时任务": "Schedules",
    "通知渠道": "Notifications",
    "登录": "Sign in",
    "退出": "Sign out",
    "用户名或邮箱": "User id or e-mail",
    "密码": "Password",
    "用户名或密码错误": "Wrong user id or password",
    "登录已过期，请重新登录": "Your session has ended; please sign in again",
    "请先登录": "Please sign in",
    "我的待办": "My open tasks",
    "工作指引": "Guidance",
    "全部制度": "All regulations",
    "筛选": "Filter",
    "任务": "Task",
    "案件编号": "Case",
    "条款": "Clause",
    "角色": "Role",
    "截止": "Due",
    "剩余时间": "Time left",
    "暂定": "provisional",
    "已暂停": "paused",
    "没有待办任务": "No open tasks",
    "自动刷新": "Refreshes by itself",
    "选择制度": "Choose a regulation",
    "发起": "Start",
    "必填": "required",
    "请更正标出的字段": "Please correct the marked field",
    "添加一行": "Add a row",
    "提交": "Submit",
    "状态": "Status",
    "客户": "Customer",
    "负责人": "Owner",
    "发起人": "Started by",
    "发起时间": "Started",
    "制度名称": "Regulation",
    "需要关注": "Needs attention",
    "在 Temporal 控制台中查看": "View in the Temporal console",
    "期限": "Deadlines",
    "待办任务": "Open tasks",
    "已完成任务": "Closed tasks",
    "时间线": "Timeline",
    "较早的 {n} 项已折叠": "{n} earlier entries folded",
    "显示全部": "Show all",
    "记录": "Records",
    "完成任务": "Complete",
    "结果": "Outcome",
    "延期": "Extend",
    "新截止时间": "New due",
    "理由": "Reason",
    "暂停计时": "Pause the clock",
    "恢复计时": "Resume the clock",
    "客户签字": "Customer signature",
    "签字人姓名": "Signer's name",
    "签字方式": "Signing method",
    "手写签名": "Draw on screen",
    "验证码": "One-time code",
    "清除": "Clear",
    "发送验证码": "Send code",
    "收件人（留空则为第一位联系人）": "Recipient (empty: the first contact)",
    "完成时以您的登录身份签字": "Completing signs the record with your sign-in",
    "您无权处理此任务": "You may not act on this task",
    "需要": "Needs",
    "最晚": "at the latest",
    "时间": "Time",
    "事件": "Event",
    "操作人": "By",
    "详情": "Detail",
    "标题": "Title",
    "创建人": "Created by",
    "创建时间": "Created",
    "签字": "Signatures",
    "签字人": "Signer",
    "方式": "Method",
    "签字时间": "Signed",
    "验证": "Verify",
    "打印": "Print",
    "导出 CSV": "Export CSV",
    "导出 Excel": "Export XLSX",
    "返回案件": "Back to the case",
    "验证通过": "Valid",
    "验证失败": "Not valid",
    "搜索": "Search",
    "全部状态": "Any status",
    "全部角色": "Any role",
    "仅超期": "Overdue only",
    "客户编号或名称": "Customer id or name",
    "下一截止": "Next due",
    "上一页": "Previous",
    "下一页": "Next",
    "共": "Total",
    "没有符合条件的案件": "No cases match",
    "新建用户": "New user",
    "姓名": "Name",
    "部门": "Department",
    "邮箱": "E-mail",
    "电话": "Phone",
    "启用": "Active",
    "停用": "Deactivate",
    "重新启用": "Reactivate",
    "保存角色": "Save roles",
    "已停用": "deactivated",
    "参数": "Field",
    "当前值": "Current value",
    "默认值": "Default",
    "说明": "Description",
    "上传日历文件": "Upload a calendar file",
    "预览": "Preview",
    "载入": "Load",
    "节假日": "Holiday",
    "调休上班": "Make-up working day",
    "工作日": "Working day",
    "休息日": "Day off",
    "下次运行": "Next run",
    "最近运行": "Recent runs",
    "控制台": "Console",
    "发送测试": "Send test",
    "渠道": "Channel",
    "最近通知": "Recent notifications",
    "收件人": "Recipient",
    "主题": "Subject",
    "尝试次数": "Attempts",
    "出错了": "Something went wrong",
    "返回工作台": "Back to my work",
    "页面已过期，请刷新后重试": "This form has expired; reload the page and try again",
    "操作已完成": "Done",
    "任务已完成": "Task completed",
    "期限已延长": "Deadline extended",
    "计时已暂停": "Clock paused",
    "计时已恢复": "Clock resumed",
    "验证码已发送给客户联系人（10 分钟内有效）": "The code was sent to the customer's contact (valid 10 minutes)",
    "案件已发起": "Case started",
    "用户已创建": "User created",
    "角色已保存": "Roles saved",
    "用户已停用": "User deactivated",
    "用户已启用": "User reactivated",
    "日历已载入": "Calendar loaded",
    "测试通知已发送": "Test notification sent",
    "测试通知发送失败": "The test notification failed",
    "不可延期": "cannot be extended",
    "无期限": "no limit",
    "超期": "overdue by",
    "剩余": "left",
    "天": "d",
    "小时": "h",
    "分钟": "min",
    "语言": "Language",
    "未找到案件": "Case not found",
    "未找到": "Not found",
    "没有权限": "Not allowed",
    "服务暂不可用，请稍后重试": "A service does not answer; try again shortly",
    "新政策仅适用于新案件；修改请编辑政策文件（ZHIDU_POLICY_FILE），运行中的案件保留其发起时的政策。": "A change applies to new cases only: edit the policy file (ZHIDU_POLICY_FILE); running cases keep the policy they started with.",
    "文件内容": "File",
    "个案件待重新计算": "case(s) recomputing provisional deadlines",
    "无": "none",
    "是": "yes",
    "否": "no",
    "共 {n} 条": "{n} in all",
    "下一步": "Next",
    "重新验证": "Verify again",
    "运行时间": "When",
    "备注": "Note",
    "用户名": "User id",
    "发送情况": "Delivery",
    "请更正标出的 {n} 处": "Please correct the {n} marked field(s)",
    "确认": "Confirm",
}

METHODS: dict[str, tuple[str, str]] = {
    "staff_login": ("登录签字", "Sign-in"),
    "drawing": ("手写签名", "Drawn"),
    "otp": ("短信/邮件验证码", "One-time code"),
}

FLASH: dict[str, str] = {
    "completed": "任务已完成",
    "extended": "期限已延长",
    "paused": "计时已暂停",
    "resumed": "计时已恢复",
    "code_sent": "验证码已发送给客户联系人（10 分钟内有效）",
    "started": "案件已发起",
    "user_created": "用户已创建",
    "roles_saved": "角色已保存",
    "deactivated": "用户已停用",
    "reactivated": "用户已启用",
}


# The words of the regulations the app serves (their folders' labels over the engine's), for
# the request being answered (PageRoute sets them).
_WORDS: dict[int, tuple[Labels, RoleBook]] = {}
WORDS: ContextVar[tuple[Labels, RoleBook] | None] = ContextVar("zhidu_words", default=None)


def words_for(registry: Mapping[str, RegulationEntry] | None) -> tuple[Labels, RoleBook]:
    key = id(registry)
    if key not in _WORDS:
        _WORDS[key] = (merge(ENGINE_LABELS, labels_of(registry)), roles_of(registry))
    return _WORDS[key]


# The organisation's people for the request being answered (PageRoute sets them).
PEOPLE: ContextVar[Directory | None] = ContextVar("zhidu_people", default=None)


def people() -> Directory:
    return PEOPLE.get() or Directory()


def person(uid: str | None) -> str:
    """A person by name (the id itself when nobody has it)."""
    return people().name(uid)


def wording(lang: str, **case: Any) -> Words:
    """Values and events in words for this request (`case`: its tasks, records, units)."""
    return Words(words(), book(), people(), lang, **case)


# The words of the regulation the page is about (its case, record or start form): the engine's
# and its own, not the merged ones. Two regulations may call one field key by different words
# (`owner` is R1's 负责人 and another's 客户归属; `content` is R1's 内容 and R5's 报告内容), and a
# page says its own regulation's word, never one a later-registered regulation put over it.
OWN: ContextVar[Labels | None] = ContextVar("zhidu_own_words", default=None)
_OWN_WORDS: dict[int, Labels] = {}


def own_words(entry: RegulationEntry) -> Labels:
    """The engine's labels with `entry`'s regulation's over them (built once per regulation)."""
    key = id(entry.labels)
    if key not in _OWN_WORDS:
        _OWN_WORDS[key] = merge(ENGINE_LABELS, entry.labels)
    return _OWN_WORDS[key]


def about(entry: RegulationEntry | None) -> RegulationEntry | None:
    """This request's page is about `entry`'s regulation: its words are the page's from here on."""
    OWN.set(own_words(entry) if entry is not None else None)
    return entry


def words() -> Labels:
    """The page's words: its regulation's (after `about`), else those of all regulations merged."""
    own = OWN.get()
    if own is not None:
        return own
    return (WORDS.get() or words_for(None))[0]


def book() -> RoleBook:
    """The roles of the regulations the app serves."""
    return (WORDS.get() or words_for(None))[1]


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


# Signing parties that are not staff roles (workflows.spec.Sign of a customer).
PARTIES: dict[str, tuple[str, str]] = {"customer": ("客户", "Customer"), "owner": ("业主", "Owner")}

VERIFY_REASONS: dict[str, str] = {
    "signature valid: sealed by this server and the record is unchanged": "签名有效：由本系统盖章，记录未被改动",
    "record changed since it was signed": "签字后记录已被改动",
    "seal does not match (the signature row was altered)": "印章不符（签字数据被改动）",
    "signed by a key this server does not trust": "签名密钥不受本系统信任",
    "the signed record no longer exists": "所签的记录已不存在",
    "unknown signature": "未知签名",
}


def role_name(code: str, lang: str) -> str:
    return pick(book().names.get(code) or PARTIES.get(code), lang, code)
