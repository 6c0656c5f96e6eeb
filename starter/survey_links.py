"""R8 (三)1: a sampled household fills the 《顾客满意度征询表》 on its phone, through a one-time
link, instead of on paper.

A link is `/s/<token>`: the survey case and the household, signed and dated by itsdangerous
with the server's session secret under a salt of its own (no account, nothing stored). It
answers once and only while the questionnaires are collected: the survey case refuses a second
return of the household, a household it did not sample and anything after the collection
closed (workflows/regulations/satisfaction, `household_return`). The customer-service center
asks for the links of the households whose questionnaire is not in yet
(`POST /api/cases/{id}/survey-links`) and hands them out with the paper questionnaire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from temporalio.client import Client

from activities.errors import Forbidden, Invalid, NotFound
from starter import cases
from store.models import User
from workflows.registry import ActionSpec, Registry
from workflows.regulations.satisfaction import ENTRY as SURVEYS
from workflows.regulations.satisfaction.forms import (
    HOUSEHOLD,
    ReturnInput,
    SurveyForm,
    household_actor,
)

if TYPE_CHECKING:
    from settings import Settings

SALT = "zhidu-survey-link"
# A link older than this is refused whatever the survey (a collection lasts a week).
MAX_AGE_SECONDS = 30 * 24 * 3600
# The update the link's page sends; not among the regulation's actions: no user sends it.
HOUSEHOLD_RETURN = ActionSpec(
    "household_return", ReturnInput, (HOUSEHOLD,), "update", "住户在线填写征询表",
    "A household answers online",
)  # fmt: skip


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt=SALT)


def _not_valid() -> Forbidden:
    return Forbidden("this questionnaire link is not valid",
                     message_zh="此问卷链接无效，请核对链接或联系客服中心")  # fmt: skip


def make_token(settings: Settings, case_id: str, household: str) -> str:
    return str(_serializer(settings).dumps({"c": case_id, "h": household}))


def read_token(settings: Settings, token: str) -> tuple[str, str]:
    """(case id, household) of a link; Forbidden for a forged, changed or too old one."""
    try:
        data = _serializer(settings).loads(token[:1000], max_age=MAX_AGE_SECONDS)
    except SignatureExpired as exc:
        raise Forbidden("this questionnaire link has expired",
                        message_zh="此问卷链接已过期，请联系客服中心") from exc  # fmt: skip
    except BadSignature as exc:
        raise _not_valid() from exc
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) \
            or not isinstance(data.get("h"), str):  # fmt: skip
        raise _not_valid()
    return data["c"], data["h"]


async def issue_links(
    client: Client, settings: Settings, case_id: str, user: User, registry: Registry | None
) -> list[dict[str, str]]:
    """The links of the sampled households whose questionnaire is not in yet: for whoever may
    enter returns from paper (the survey's `enter_return` roles), while it is collected."""
    ref = await cases.resolve_case(client, case_id, registry)
    if ref.entry.code != SURVEYS.code:
        raise Invalid(f"{case_id} is not a survey case", "case_id",
                      f"{case_id} 不是满意度调查案件")  # fmt: skip
    roles = cases.action_spec(ref.entry, "enter_return").roles
    if not set(user.roles or []) & set(roles):
        raise Forbidden(f"{user.id} may not hand out questionnaire links: needs the role "
                        f"{', '.join(roles)}", message_zh="只有客服部可以发放问卷链接")  # fmt: skip
    form = await cases.case_query(client, case_id, "survey_form", "", result_type=SurveyForm)
    if not form.collecting:
        raise Invalid("the questionnaires are not being collected", "case_id",
                      "征询表不在回收期内")  # fmt: skip
    pending = await cases.case_query(client, case_id, "survey_pending", result_type=list[str])
    return [{"household": h, "url": f"/s/{make_token(settings, case_id, h)}"} for h in pending]


async def survey_form(
    client: Client, settings: Settings, token: str
) -> tuple[str, str, SurveyForm]:
    """(case id, household, what its questionnaire shows) of a link."""
    case_id, household = read_token(settings, token)
    try:
        form = await cases.case_query(
            client, case_id, "survey_form", household, result_type=SurveyForm
        )
    except NotFound as exc:
        raise _not_valid() from exc
    return case_id, household, form


async def answer(client: Client, case_id: str, household: str, data: dict[str, Any]) -> str:
    """Send a household's questionnaire to its survey; the survey's refusal as a ServiceError."""
    arg = cases.validated_action_input(
        HOUSEHOLD_RETURN, {**data, "household": household, "actor": household_actor(household)}
    )
    result = await cases.send(client, case_id, HOUSEHOLD_RETURN, arg)
    return str(result.get("result", ""))
