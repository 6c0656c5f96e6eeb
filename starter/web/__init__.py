"""The web pages: server-rendered HTML (Jinja2, autoescape on), Simplified Chinese first with an
English switch (cookie `zhidu_lang=en`), usable on a phone, no front-end build and no
JavaScript framework (starter/static/web/web.js: auto-refresh, signature pad, repeated rows).

One module per page or job, as viewflow's `flow/views/`: `i18n` (the words), `times`, `forms`
(generated from JSON Schema), `pages` (the machinery: PageRoute, render, the error page),
`auth` (sign in / out, language), `work`, `start`, `case` (and its task forms' posts), `records`
(and their exports), `cases` (the list), `admin`, `csrf` (the middleware). Templates and static
files stay in starter/templates/ and starter/static/.

Every page goes through the same code as the API and the CLI: `starter.cases` to start and
steer cases (Temporal), `starter.catalog` and `store.queries` to read (PostgreSQL is the read
model: no page sends a workflow query but `survey`, a household's one-time questionnaire
link, which must offer exactly what its survey accepts now), `starter.sigcodes`, `starter.users`,
`starter.sessions`, and the services the API routes call too (`starter.auth`,
`starter.signatures`, `starter.state`). Forms are generated from the JSON Schema of a
regulation's input model and of each task outcome's data model, so a new regulation gets its
pages without template work.

Sign-in is the API's server-side session (cookie `zhidu_session`); every unsafe request carries
the CSRF token of asgi-csrf (see `create_app` in starter/app.py).
"""

from __future__ import annotations

from fastapi import APIRouter

from starter.web import admin, auth, case, cases, records, start, survey, work
from starter.web.pages import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
# In the order the pages were always matched.
for page in (auth, work, start, case, records, cases, admin, survey):
    router.include_router(page.router)
