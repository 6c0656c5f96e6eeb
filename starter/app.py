"""The web app: `create_app` puts together the JSON API (starter/api.py), the pages
(starter/web/), their error handlers and middlewares, /docs (offline Swagger UI) and /healthz.

Middlewares, outermost first: the request guard (starter/guard.py: control characters, body
size, JSON depth, a service that does not answer), then CSRF (starter/web/csrf.py). Every
refusal of the API has one shape, `{"detail": "...", "field": "..." | null}` (starter/refusals.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from activities.errors import ServiceError, error_field
from settings import Settings
from starter import api
from starter.auth import TooManyTries
from starter.guard import GuardMiddleware
from starter.refusals import RETRY_AFTER, refusal, unavailable
from starter.stackfile import with_dev_database
from starter.state import AppState
from starter.web import router as page_router
from starter.web.csrf import CsrfMiddleware
from starter.web.pages import STATIC
from store.db import SessionFactory, is_unavailable
from workflows.registry import Registry

log = logging.getLogger("zhidu.api")

HEALTH_TIMEOUT = 3.0


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    session_factory: SessionFactory | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """The app. `client` and `session_factory` are injected by tests; otherwise they are
    created at start-up from `settings` (worker.connect, store.db) and closed at shutdown."""
    st = AppState(
        settings=settings, registry=registry, client=client, session_factory=session_factory
    )
    app = FastAPI(
        title="zhidu 制度 API",
        summary="Customer-service regulations as Temporal workflows / 客服制度流程",
        version="0.2.0",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(st),
    )
    _offline_docs(app)
    _health(app, st)
    app.state.zhidu = st
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(api.router)
    _pages(app, settings)
    app.add_middleware(GuardMiddleware)
    return app


def _lifespan(st: AppState) -> Callable[[FastAPI], Any]:
    """Start-up: the database and the Temporal client unless injected; shutdown: the engine."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if st.session_factory is None:
            from store.db import make_engine, make_session_factory

            database_url = with_dev_database(st.settings).database_url
            if not database_url:
                raise RuntimeError(
                    "DATABASE_URL is not set and no `zhidu dev` stack is running in ZHIDU_DATA_DIR"
                )
            engine = make_engine(database_url)
            st.session_factory = make_session_factory(engine)
        if st.client is None:
            from worker import connect

            st.client = await connect(st.settings)
        settle_memory()
        try:
            yield
        finally:
            if engine is not None:
                await engine.dispose()

    return lifespan


def _pages(app: FastAPI, settings: Settings) -> None:
    """The web pages (HTML, starter/web/), their CSS / JS, and CSRF."""
    from fastapi.staticfiles import StaticFiles

    app.include_router(page_router)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web")
    # CSRF (asgi-csrf, double-submit cookie): every unsafe request that carries a cookie must
    # send the token, as the form field `csrftoken` (the pages put it in every form) or the
    # header `x-csrftoken` (a script). Not checked: requests with `Authorization: Bearer`
    # (a browser never adds that header by itself) or without any cookie (nothing to ride
    # on); the JSON sign-in (a cross-site page cannot send a JSON body without a CORS
    # preflight, which this app never grants) and the API sign-out (it only ends the session
    # whose cookie it carries). The page sign-in is checked even without cookies (login CSRF).
    app.add_middleware(
        CsrfMiddleware,
        secret=settings.session_secret,
        secure=settings.secure_cookies,
    )


def settle_memory() -> None:
    """Once the app has started: everything alive now (modules, models, templates, the
    registry) lives as long as the process, so it is frozen out of the garbage collector's
    scans (gc.freeze). A full collection then scans only what requests create, which keeps
    its pauses out of page times (bench/web_bench.py, --no-gc shows the difference)."""
    import gc

    gc.collect()
    gc.freeze()


# ---- errors ------------------------------------------------------------------------------------


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return refusal(exc.status, exc.message, exc.field, **retry_after(exc))


def retry_after(exc: ServiceError) -> dict[str, str]:
    """The Retry-After header of a refusal that passes with time (503, 429), else none."""
    if isinstance(exc, TooManyTries):
        return {"Retry-After": str(exc.wait)}
    return {"Retry-After": RETRY_AFTER} if exc.status == 503 else {}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return refusal(exc.status_code, str(exc.detail), None, **(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming the first field, without echoing the input back."""
    assert isinstance(exc, RequestValidationError)
    errs = exc.errors()
    first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ())]
    if len(loc) > 1 and loc[0] in ("body", "path", "query", "header", "cookie"):
        loc = loc[1:]
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    msg = str(first.get("msg", "invalid"))
    return refusal(422, f"{msg}{more}", error_field(tuple(loc), msg))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        return unavailable(f"{request.method} {request.url.path}", exc)
    log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return refusal(500, "internal error", None)


# ---- /healthz, /docs ---------------------------------------------------------------------------


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable when a service does not answer")
    database: str
    temporal: str


def _health(app: FastAPI, st: AppState) -> None:
    """GET /healthz: whether this process reaches its database and Temporal (for load
    balancers, container healthchecks and operators). No sign-in, no case data."""

    async def database() -> None:
        from sqlalchemy import text

        assert st.session_factory is not None
        async with st.session_factory() as session:
            await session.execute(text("SELECT 1"))

    async def temporal() -> None:
        assert st.client is not None
        await st.client.service_client.check_health(timeout=timedelta(seconds=HEALTH_TIMEOUT))

    async def probe(check: Callable[[], Awaitable[None]], configured: object) -> str:
        if configured is None:
            return "not configured"
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await check()
        except Exception as exc:
            log.warning("healthz: %s (%s)", type(exc).__name__, exc)
            return "unavailable"
        return "ok"

    # Not in the OpenAPI document: it is for machines, its 503 has its own shape (which
    # service does not answer) and it is not part of the API integrators program against.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        db, tp = await asyncio.gather(
            probe(database, st.session_factory), probe(temporal, st.client)
        )
        ok = db == tp == "ok"
        body = Health(status="ok" if ok else "unavailable", database=db, temporal=tp)
        headers = {} if ok else {"Retry-After": RETRY_AFTER}
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503, headers=headers)


def _offline_docs(app: FastAPI) -> None:
    """/docs: Swagger UI 5 (it reads the OpenAPI 3.1 FastAPI writes), served from the files the
    fastapi-offline package ships: works offline, no CDN."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    files = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/swagger", StaticFiles(directory=files), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="zhidu 制度 API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
        )
