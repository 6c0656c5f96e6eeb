"""A household's questionnaire through its one-time link (R8 (三)1, starter/survey_links.py):
no sign-in; the page shows the survey's items and grade scale and sends the answers as the
household. The one page that asks a case rather than the database what to show: it must offer
exactly what the survey accepts now (its items, its scale, still collecting, not answered)."""

from __future__ import annotations

import typing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from activities.errors import ServiceError
from starter import survey_links
from starter.state import get_client
from starter.web.forms import form_errors, said
from starter.web.i18n import lang_of, pick
from starter.web.pages import PageRoute, render, state
from workflows.regulations.satisfaction import ENTRY as SURVEYS
from workflows.regulations.satisfaction.forms import (
    AgeBand,
    ReturnInput,
    Sex,
    SurveyForm,
    household_actor,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)

FIELDS = ("age_band", "sex", "occupation", "opinions", "expectations")


def _choices(kind: Any, lang: str) -> list[tuple[str, str]]:
    enums = SURVEYS.labels.enums
    return [(v, pick(enums.get(v), lang, v)) for v in typing.get_args(kind)]


async def _link(request: Request, token: str) -> tuple[str, str, SurveyForm]:
    """(case id, household, what its questionnaire shows) of the link: one query to its case."""
    st = state(request)
    return await survey_links.survey_form(get_client(st), st.settings, token)


def _page(request: Request, token: str, household: str, form: SurveyForm, status: int = 200,
          **ctx: Any) -> Response:  # fmt: skip
    lang = lang_of(request)
    closed = None
    if form.answered:
        closed = pick(
            ("您的征询表已经提交，感谢您的参与", "Your questionnaire is in: thank you"), lang
        )
    elif not form.sampled or not form.collecting:
        closed = pick(("本次满意度调查不在回收期内", "This survey is not being collected"), lang)
    values = ctx.pop("values", {})
    return render(
        request, "survey_fill.html", None, status=status, token=token, household=household,
        form=form, closed=closed, values=values, errors=ctx.pop("errors", {}),
        age_bands=_choices(AgeBand, lang), sexes=_choices(Sex, lang), **ctx,
    )  # fmt: skip


@router.get("/s/{token}")
async def survey_page(request: Request, token: str) -> Response:
    _, household, form = await _link(request, token)
    return _page(request, token, household, form)


@router.post("/s/{token}")
async def survey_post(request: Request, token: str) -> Response:
    lang = lang_of(request)
    st = state(request)
    case_id, household, form = await _link(request, token)
    if form.answered or not form.sampled or not form.collecting:
        return _page(request, token, household, form, 409)  # it says why; nothing is sent
    posted = await request.form()
    values = {k: str(posted.get(k) or "").strip() for k in FIELDS}
    grades = [{"item": item, "grade": str(posted.get(f"grade.{i}") or "")}
              for i, item in enumerate(form.items)]  # fmt: skip
    data: dict[str, Any] = {k: v or None for k, v in values.items() if k in ("age_band", "sex")}
    data |= {k: values[k] for k in ("occupation", "opinions", "expectations")}
    data["occupation"] = data["occupation"] or None
    data["grades"] = [g for g in grades if g["grade"]]
    errors = {f"grade.{i}": pick(("请为这一项选择满意程度", "Choose a grade for this item"), lang)
              for i, g in enumerate(grades) if not g["grade"]}  # fmt: skip
    check = {**data, "household": household, "actor": household_actor(household)}
    errors |= {k: v for k, v in form_errors(ReturnInput, check, "", lang).items()
               if not k.startswith("grades")}  # fmt: skip
    chosen = {f"grade.{i}": g["grade"] for i, g in enumerate(grades)}
    if errors:
        return _page(request, token, household, form, 422, values={**values, **chosen},
                     errors=errors)  # fmt: skip
    try:
        await survey_links.answer(get_client(st), case_id, household, data)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        # refused now (answered or closed meanwhile): the page as the case now stands
        _, household, form = await _link(request, token)
        return _page(request, token, household, form, exc.status, values={**values, **chosen},
                     refusal=said(exc, lang))  # fmt: skip
    return render(request, "survey_done.html", None, household=household, estate=form.estate)
