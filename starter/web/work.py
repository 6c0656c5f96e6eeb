"""工作台 / my work: the open tasks of the signed-in user (their own and their roles'), soonest
due first, by regulation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from starter.web.i18n import lang_of, person, role_name, wording
from starter.web.pages import PageRoute, factory, page_user, registry, render
from starter.web.times import due_info
from starter.wording import Words
from store import queries

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def mark_twins(rows: list[dict[str, Any]], w: Words) -> None:
    """Tasks of one title side by side get what tells them apart (`hint`) and their number."""
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["title"]] = seen.get(r["title"], 0) + 1
    for r in rows:
        if seen[r["title"]] > 1:
            r["hint"] = w.hint(r.get("data")) or r["short"]


def task_row(task: Mapping[str, Any], now: datetime, lang: str, regs: Mapping[str, Any]) -> dict:
    entry = regs.get(task["regulation"])
    return {
        **task,
        "short": task["id"].rsplit("/", 1)[-1],
        "due": due_info(task, now, lang),
        "who": person(task["assignee"])
        if task.get("assignee") and not task.get("role")
        else role_name(task["role"], lang),
        "regulation_title": (entry.title_en if lang == "en" else entry.title_zh)
        if entry
        else task["regulation"],
    }


@router.get("/work")
async def work(request: Request) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    regs = registry(request)
    everything = await queries.work_list(factory(request), user)  # soonest due first
    counts: dict[str, int] = {}
    for t in everything:
        counts[t["regulation"]] = counts.get(t["regulation"], 0) + 1
    chosen = request.query_params.get("regulation") or ""
    now = datetime.now(UTC)
    rows = [
        task_row(t, now, lang, regs) for t in everything if not chosen or t["regulation"] == chosen
    ]
    mark_twins(rows, wording(lang))
    titles = {code: (e.title_en if lang == "en" else e.title_zh) for code, e in regs.items()}
    # What the regulations ask of the user's roles that no task enforces (guidance only).
    held = set(user.roles or [])
    guidance = [
        {"regulation": titles[code], "title": g.title, "clause": g.clause, "lines": g.lines}
        for code, e in regs.items()
        for g in e.guidance
        if g.role in held
    ]
    return render(
        request, "work.html", user, tasks=rows, counts=counts, chosen=chosen, titles=titles,
        total=len(everything), now=now, guidance=guidance,
    )  # fmt: skip
