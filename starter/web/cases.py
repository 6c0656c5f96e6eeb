"""案件列表 / the cases: searched by regulation, status, customer, role and overdue, a page at a
time."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from starter.web.i18n import book, lang_of
from starter.web.pages import PageRoute, factory, page_user, registry, render
from starter.web.times import due_info
from store import queries

router = APIRouter(include_in_schema=False, route_class=PageRoute)


PER_PAGE = 25


@router.get("/cases")
async def cases_list(request: Request) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    q = request.query_params
    regs = registry(request)
    regulation = q.get("regulation") or ""
    status = q.get("status") or ""
    customer = (q.get("customer") or "").strip()[:100]
    role = q.get("role") or ""
    overdue = q.get("overdue") == "1"
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    rows, total = await queries.search_cases(
        factory(request),
        regulation=regulation if regulation in regs else None,
        status=status[:30] or None,
        customer=customer or None,
        role=role if role in book() else None,
        overdue=overdue,
        page=page,
        per_page=PER_PAGE,
    )
    now = datetime.now(UTC)
    for r in rows:
        r["due"] = due_info({"due_at": r["next_due"]}, now, lang) if r["next_due"] else None
    params = {k: v for k, v in (("regulation", regulation), ("status", status),
              ("customer", customer), ("role", role), ("overdue", "1" if overdue else "")) if v}  # fmt: skip
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render(
        request, "cases.html", user, rows=rows, total=total, page=page, pages=pages,
        prev_url=f"/cases?{urlencode({**params, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/cases?{urlencode({**params, 'page': page + 1})}" if page < pages else None,
        regulation=regulation, status_filter=status, customer=customer, role=role, overdue=overdue,
        titles={c: (e.title_en if lang == "en" else e.title_zh) for c, e in regs.items()},
        roles=list(book().names), statuses=["open", "closed", "done"],
    )  # fmt: skip
