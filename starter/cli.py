"""`zhidu`: the operator's command line. It goes through `starter.cases` like the API, so a
case started, shown or acted on here behaves exactly as over HTTP.

The CLI is a trusted operator tool: `--as USER` acts as that database user (it must exist).
Errors print one line `zhidu: <message>` to stderr and exit 2 (bad input) or 1 (anything else).
Short-lived commands end with `os._exit` after flushing, because the Temporal core can abort
the interpreter at exit (temporalio/sdk-python#300); `dev`, `worker` and `web` exit normally.

    zhidu dev | worker | web [--host H --port P] | migrate
    zhidu users list | add ID --name N --role R [--role R2] --password P | token ID [--name N]
                | password ID [--password P]
                | revoke TOKEN_ID | demo
    zhidu regulations
    zhidu start CODE --as USER --input JSON|@file
    zhidu cases [--regulation R] [--status S] [--customer C]
    zhidu show CASE_ID [--json]
    zhidu act CASE_ID ACTION --as USER --data JSON|@file
    zhidu sign-code CASE_ID TASK_ID --as USER [--recipient PHONE|EMAIL]
    zhidu verify SIGNATURE_ID
    zhidu calendar load FILE --as USER
    zhidu schedules [list|sync]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from activities.errors import Forbidden, Invalid, NotFound, ServiceError

if TYPE_CHECKING:
    from temporalio.client import Client

    from settings import Settings
    from starter import cases, catalog, sigcodes, users
    from starter.cases import Registry
    from store import queries
    from store.db import SessionFactory
    from store.models import User


class _Lazy:
    """A module imported on first use: `zhidu --help` and the quick commands do not pay for
    Temporal, SQLAlchemy and every regulation up front."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if not TYPE_CHECKING:
    cases, catalog = _Lazy("starter.cases"), _Lazy("starter.catalog")
    sigcodes, users, queries = (
        _Lazy("starter.sigcodes"),
        _Lazy("starter.users"),
        _Lazy("store.queries"),
    )

ExitFn = Callable[[int], Any]
LONG_RUNNING = {"dev", "worker", "web"}


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and an exception, not a usage dump and sys.exit."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("zhidu").strip()
        raise CliError(f"{where}: {message}" if where else message, 2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zhidu", description="zhidu — 客服制度流程 (regulations as workflows)")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    sub.add_parser("dev", help="run the one-command dev stack (Temporal, PostgreSQL, worker, web)")
    sub.add_parser("worker", help="run the worker")
    web = sub.add_parser("web", help="run the web app and API")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    sub.add_parser("migrate", help="upgrade the database schema")
    sub.add_parser("regulations", help="list the regulations")

    us = sub.add_parser("users", help="manage users and API tokens")
    usub = us.add_subparsers(dest="users_cmd", required=True, parser_class=_Parser)
    usub.add_parser("list")
    add = usub.add_parser("add")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument(
        "--role", action="append", required=True, help="role code; repeat or comma-separate"
    )
    add.add_argument("--password", required=True)
    add.add_argument("--department")
    add.add_argument("--email")
    add.add_argument("--phone")
    tok = usub.add_parser("token")
    tok.add_argument("id")
    tok.add_argument("--name", default="cli")
    rev = usub.add_parser("revoke")
    rev.add_argument("token", help="token id or the token itself")
    usub.add_parser("demo", help="create the demo users (one per role of R1)")
    pw = usub.add_parser(
        "password", help="set a user's password (ends the user's sessions); asks for it"
    )
    pw.add_argument("id")
    pw.add_argument("--password", help="the new password (default: asked on the terminal)")

    st = sub.add_parser("start", help="start a case")
    st.add_argument("code")
    st.add_argument("--as", dest="as_user", required=True)
    st.add_argument("--input", required=True, help="JSON or @file")

    cs = sub.add_parser("cases", help="list cases")
    cs.add_argument("--regulation")
    cs.add_argument("--status")
    cs.add_argument("--customer")

    sh = sub.add_parser("show", help="show a case")
    sh.add_argument("case_id")
    sh.add_argument("--json", action="store_true")
    sh.add_argument(
        "--live",
        action="store_true",
        help="ask the running workflow (its `state` query) instead of the database",
    )

    ac = sub.add_parser("act", help="send an action to a case")
    ac.add_argument("case_id")
    ac.add_argument("action")
    ac.add_argument("--as", dest="as_user", required=True)
    ac.add_argument("--data", default="{}", help="JSON or @file (without actor)")
    ac.add_argument("--json", action="store_true", help="print the whole result as JSON")

    sc = sub.add_parser(
        "sign-code", help="send the customer a one-time code to sign a task's record (otp)"
    )
    sc.add_argument("case_id")
    sc.add_argument("task_id", help="full task id or the short form after the slash (t3)")
    sc.add_argument("--as", dest="as_user", required=True)
    sc.add_argument("--recipient", help="phone or e-mail of one of the case's contacts")

    ve = sub.add_parser("verify", help="verify a signature")
    ve.add_argument("signature_id")

    sched = sub.add_parser("schedules", help="periodic duties (Temporal Schedules)")
    sched.add_argument("schedules_cmd", nargs="?", choices=("list", "sync"), default="list")

    cal = sub.add_parser("calendar", help="working-day calendar")
    csub = cal.add_subparsers(dest="calendar_cmd", required=True, parser_class=_Parser)
    load = csub.add_parser("load")
    load.add_argument("file")
    load.add_argument("--as", dest="as_user", required=True)
    return p


# ---- helpers ------------------------------------------------------------------------------------


def parse_json_arg(text: str, option: str) -> dict[str, Any]:
    """`--input`/`--data`: inline JSON or `@path`; must be an object."""
    source = option
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{option}: cannot read {path}: {exc.strerror or exc}", 2) from exc
        source = f"{option} {path}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{source} is not valid JSON: {exc}", 2) from exc
    if not isinstance(value, dict):
        raise CliError(f"{source} must be a JSON object", 2)
    return value


def _local(value: Any) -> str:
    if not value:
        return "—"
    from workflows.model import CHINA_TZ

    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(dt.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"))


def _dumps(value: Any) -> str:
    return json.dumps(queries.jsonable(value), ensure_ascii=False, indent=2)


async def connect_client(settings: Settings) -> Client:
    """The Temporal client (worker.connect: pydantic data converter, namespace)."""
    from worker import connect

    return await connect(settings)


class Context:
    """Lazily opened database and Temporal connections of one command."""

    def __init__(self, settings: Settings, registry: Registry | None, stack: AsyncExitStack):
        self.settings = settings
        self.registry = registry
        self._stack = stack
        self._factory: SessionFactory | None = None
        self._client: Client | None = None

    @property
    def factory(self) -> SessionFactory:
        if self._factory is None:
            from store.db import make_engine, make_session_factory

            if not self.settings.database_url:
                raise CliError(
                    "DATABASE_URL is not set and no `zhidu dev` stack is running in ZHIDU_DATA_DIR"
                )
            engine = make_engine(self.settings.database_url)
            self._stack.push_async_callback(engine.dispose)
            self._factory = make_session_factory(engine)
        return self._factory

    async def client(self) -> Client:
        if self._client is None:
            try:
                self._client = await connect_client(self.settings)
            except RuntimeError as exc:
                raise CliError(
                    f"cannot reach Temporal at {self.settings.temporal_address}: {exc}"
                ) from exc
        return self._client

    async def user(self, user_id: str) -> User:
        user = await users.get_user(self.factory, user_id)
        if user is None:
            raise NotFound(f"no user {user_id} (see `zhidu users list`)", "--as")
        if not user.active:
            raise Forbidden(f"user {user_id} is deactivated", "--as")
        return user


# ---- commands -----------------------------------------------------------------------------------


async def cmd_users(args: argparse.Namespace, ctx: Context) -> int:
    f = ctx.factory
    if args.users_cmd == "list":
        for u in await users.list_users(f):
            state = "" if u.active else "  (inactive)"
            print(f"{u.id:<14} {u.name:<24} {','.join(u.roles or [])}{state}")
    elif args.users_cmd == "add":
        roles = [r.strip() for item in args.role for r in item.split(",") if r.strip()]
        u = await users.create_user(
            f, args.id, args.name, args.password, roles, args.department, args.email, args.phone
        )
        print(f"created user {u.id} ({u.name}) roles {','.join(u.roles)}")
    elif args.users_cmd == "token":
        token_id, token = await users.issue_token_with_id(f, args.id, args.name)
        print(f"token {token_id} for {args.id} (shown once, keep it secret):")
        print(token)
    elif args.users_cmd == "revoke":
        row = await users.revoke_token(f, args.token)
        print(f"revoked token {row.id} ({row.name}) of {row.user_id}")
    elif args.users_cmd == "password":
        new = args.password
        if new is None:
            import getpass

            new = getpass.getpass(f"new password for {args.id}: ")
            if getpass.getpass("again: ") != new:
                raise Invalid("the two passwords differ", "--password")
        await users.set_password(f, args.id, new)
        print(f"password of {args.id} set; their sessions have ended")
    elif args.users_cmd == "demo":
        print("demo users (id / password / roles):")
        for uid, password, roles in await users.ensure_demo_users(f):
            names = "、".join(users.ROLE_BOOK.zh(r) for r in roles)
            print(f"  {uid:<11} {password:<16} {','.join(roles)}  {names}")
    return 0


async def cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    raw = parse_json_arg(args.input, "--input")
    user = await ctx.user(args.as_user)
    # Checked before connecting: bad input is refused even when Temporal is down.
    plan = await cases.plan_start(
        ctx.settings, args.code, raw, user, registry=ctx.registry, session_factory=ctx.factory
    )
    case_id, run_id = await cases.launch(await ctx.client(), ctx.settings, plan)
    await cases.case_row_stored(ctx.factory, case_id)
    print(f"started {case_id} (run {run_id})")
    print(f"console: {ctx.settings.console_url(case_id)}")
    return 0


async def cmd_cases(args: argparse.Namespace, ctx: Context) -> int:
    rows = await queries.list_cases(ctx.factory, args.regulation, args.status, args.customer)
    for c in rows:
        flag = " 暂定" if c["provisional"] else ""
        print(f"{c['id']:<28} {c['status']:<10} {_local(c['started_at'])}  {c['title']}{flag}")
    if not rows:
        print("no cases")
    return 0


async def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    url = ctx.settings.console_url(args.case_id)
    if args.live:
        live = await cases.case_state(await ctx.client(), args.case_id)
        view: dict[str, Any] = live.model_dump(mode="json")
    else:
        view = await catalog.case_view(ctx.factory, args.case_id, ctx.registry)
    if args.json:
        print(_dumps({**view, "console_url": url}))
        return 0
    print(await show_text(view, ctx, url))
    return 0


async def show_text(view: dict[str, Any], ctx: Context, url: str) -> str:
    """A case as `zhidu show` says it: in Chinese, people by name, the timeline in sentences;
    task ids and outcome codes beside their names (a command names them)."""
    from starter import people, wording
    from workflows.engine.labels import LABELS as ENGINE_LABELS
    from workflows.labels import merge
    from workflows.regulations import labels_of, registry_or_default, roles_of

    regs = registry_or_default(ctx.registry)
    entry = regs.get(view["regulation"])
    # The case's own regulation's words (another's may call the same key differently).
    labels = merge(ENGINE_LABELS, entry.labels if entry else labels_of(ctx.registry))
    try:
        records = await queries.case_records(ctx.factory, view["case_id"])
    except queries.NoSuchCase:
        records = []  # the case's first step is not stored yet
    w = wording.Words(
        labels, roles_of(ctx.registry), await people.directory(ctx.factory), "zh",
        tasks={t["id"]: t for t in view["tasks"]}, records={r["id"]: r["title"] for r in records},
        units=await queries.unit_titles(ctx.factory, view["case_id"]),
    )  # fmt: skip
    out = [f"{view['case_id']}  {view['title']}"]
    status = w.value("status", view["status"]) + ("（部分期限暂定）" if view["provisional"] else "")
    out.append(f"制度 {entry.title_zh if entry else view['regulation']}   状态 {status}")
    open_tasks = [t for t in view["tasks"] if t["status"] == "open"]
    out.append(f"待办任务（{len(open_tasks)}）：")
    titles = [t["title"] for t in open_tasks]
    for t in open_tasks:
        role = w.role(t["role"]) if t["role"] else ""
        who = f"{w.person(t['assignee'])}（{role}）" if t["assignee"] and role else (
            w.person(t["assignee"]) or role)  # fmt: skip
        due = _local(t["due_at"]) + (" 暂定" if t["provisional"] else "")
        short = t["id"].rsplit("/", 1)[-1]
        title = wording.money_in_text(t["title"])
        if titles.count(t["title"]) > 1 and w.hint(t.get("data")):
            title += f"（{w.hint(t.get('data'))}）"
        out.append(f"  {short}  截止 {due}  {who}  [{t['clause']}]  {title}")
        outcomes = (t.get("meta") or {}).get("outcomes") or t.get("outcomes") or []
        if len(outcomes) > 1:
            named = "、".join(f"{w.enum(o)}（{o}）" if w.enum(o) != o else o for o in outcomes)
            out.append(f"      结果可选：{named}")
    closed = [t for t in view["tasks"] if t["status"] != "open"]
    if closed:
        out.append(f"已完成任务（{len(closed)}）：")
        for t in closed[-5:]:
            short = t["id"].rsplit("/", 1)[-1]
            outcome = w.enum(t["outcome"]) if t["outcome"] else ""
            out.append(f"  {short}  {w.value('status', t['status'])}  {outcome}  "
                       f"{w.person(t['closed_by'])}  {wording.money_in_text(t['title'])}")  # fmt: skip
    if records:
        out.append(f"记录（{len(records)}）：")
        for r in records:
            out.append(f"  {r['id']}  {r['title']}  {_local(r['created_at'])}")
            for sig in r["signatures"]:
                method = {"staff_login": "登录签字", "drawing": "手写签名", "otp": "验证码"}.get(
                    sig["method"], sig["method"])  # fmt: skip
                out.append(f"      {w.person(sig['signer'])}（{w.role(sig['role'])}，{method}）"
                           f"签字：{sig['id']}")  # fmt: skip
    out.append("最近事件：")
    for e in view["events"][-10:]:
        clause = f" [{e['clause']}]" if e["clause"] else ""
        out.append(f"  {_local(e['at'])}  {w.event(e)}{clause}")
    if not open_tasks:
        for key, value in (view.get("summary") or {}).items():
            if isinstance(value, dict) and any(
                isinstance(v, str) and v[:2] == "20" and "T" in v for v in value.values()
            ):
                out.append(f"下一步：{w.field(key)} {w.value(key, value)}")
    out.append(f"Temporal 控制台：{url}")
    return "\n".join(out)


async def cmd_act(args: argparse.Namespace, ctx: Context) -> int:
    payload = parse_json_arg(args.data, "--data")
    user = await ctx.user(args.as_user)
    result = await cases.act(
        await ctx.client(),
        args.case_id,
        args.action,
        payload,
        user,
        registry=ctx.registry,
        session_factory=ctx.factory,
        settings=ctx.settings,
    )
    print(_dumps(result) if args.json else _act_summary(result))
    return 0


def _act_summary(result: dict[str, Any]) -> str:
    """One line for what the action did to a task (its status, due, outcome, the record it
    wrote), or the result as JSON when it is not a task."""
    if not {"id", "status", "title"} <= result.keys():
        if result.get("ok") is True and "action" in result:
            return f"sent {result['action']} to {result.get('case_id', '')}"
        return _dumps(result)
    short = str(result["id"]).rsplit("/", 1)[-1]
    line = f"{short}  {result['status']}"
    if result.get("outcome"):
        line += f" ({result['outcome']})"
    if result["status"] == "open":
        line += f"  due {_local(result.get('due_at'))}"
        line += " 暂定" if result.get("provisional") else ""
        if result.get("paused_at"):
            line += "  paused"
    line += f"  {result['title']}"
    record = (result.get("data") or {}).get("record_id")
    return f"{line}\nrecord {record}" if record else line


async def cmd_sign_code(args: argparse.Namespace, ctx: Context) -> int:
    user = await ctx.user(args.as_user)
    out = await sigcodes.issue_signature_code(
        ctx.factory,
        args.case_id,
        args.task_id,
        user,
        args.recipient,
        settings=ctx.settings,
        registry=ctx.registry,
    )
    print(
        f"sent one-time code {out['code_id']} to {out['recipient']}, "
        f"valid until {_local(out['expires_at'])} (China time)"
    )
    return 0


async def cmd_regulations(args: argparse.Namespace, ctx: Context) -> int:
    for r in catalog.list_regulations(None, ctx.registry):
        actions = ", ".join(a["name"] for a in r["actions"])
        print(f"{r['code']:<16} {r['title_zh']} / {r['title_en']}")
        print(
            f"{'':<16} start roles: {', '.join(r['start_roles']) or 'anyone'}; actions: {actions}"
        )
    return 0


async def cmd_verify(args: argparse.Namespace, ctx: Context) -> int:
    from activities.signing import Sealer, verify_signature

    key = Sealer.load_or_create(ctx.settings.signing_key_file).public_key_b64
    result = await verify_signature(ctx.factory, args.signature_id, key)
    print(_dumps(result))
    return 0 if result.ok else 1


async def cmd_calendar(args: argparse.Namespace, ctx: Context) -> int:
    from starter.calendars import load_calendar

    user = await ctx.user(args.as_user)
    if "admin" not in (user.roles or []):
        raise Forbidden(f"{user.id} may not load the calendar: only 系统管理员 (admin) may", "--as")
    path = Path(args.file)
    if not await asyncio.to_thread(path.is_file):
        raise CliError(f"no calendar file {path}", 2)
    try:
        loaded = await load_calendar(ctx.factory, path, user, ctx.client)
    except ValueError as exc:
        raise CliError(f"{path}: {exc}", 2) from exc
    print(f"loaded calendar year {loaded.year}: {loaded.days} days")
    for case_id, why in loaded.failed.items():
        print(f"zhidu: {case_id}: calendar_updated not delivered: {why}", file=sys.stderr)
    if loaded.signalled or loaded.failed:
        print(f"recomputing provisional deadlines of {len(loaded.signalled)} case(s)")
    return 1 if loaded.failed else 0


async def cmd_schedules(args: argparse.Namespace, ctx: Context) -> int:
    from starter.schedules import describe_schedules, ensure_schedules

    client = await ctx.client()
    if args.schedules_cmd == "sync":
        for synced in await ensure_schedules(client, ctx.settings, ctx.registry):
            print(f"{synced.id}: {synced.action}")
    for row in await describe_schedules(client, ctx.registry):
        when = ", ".join(_local(t) for t in row.get("next", [])[:1]) or row.get("error", "—")
        print(f"{row['id']:<28} {row['cron'] or '':<12} next {when}  {row['title_zh']}")
        print(f"{'':<28} console: {ctx.settings.schedule_url(row['id'])}")
    return 0


COMMANDS = {
    "users": cmd_users,
    "start": cmd_start,
    "cases": cmd_cases,
    "show": cmd_show,
    "act": cmd_act,
    "sign-code": cmd_sign_code,
    "regulations": cmd_regulations,
    "verify": cmd_verify,
    "calendar": cmd_calendar,
    "schedules": cmd_schedules,
}


async def run_command(
    args: argparse.Namespace, settings: Settings, registry: Registry | None = None
) -> int:
    async with AsyncExitStack() as stack:
        return await COMMANDS[args.cmd](args, Context(settings, registry, stack))


def _call(fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)`, sync or async."""
    result = fn(*args)
    if inspect.isawaitable(result):
        asyncio.run(_await(result))


async def _await(awaitable: Any) -> None:
    await awaitable


def _run_long(args: argparse.Namespace, settings: Settings) -> None:
    settings.configure_logging()
    if args.cmd == "dev":
        from starter.devstack import run_dev

        _call(run_dev, settings)
    elif args.cmd == "worker":
        from starter.schedules import sync_at_start
        from worker import run_worker

        _call(lambda: run_worker(settings, on_connected=sync_at_start(settings)))
    elif args.cmd == "web":
        if settings.has_dev_session_secret:
            raise CliError(
                "ZHIDU_SESSION_SECRET is not set: the web app will not sign its CSRF tokens with "
                "the public default; set ZHIDU_SESSION_SECRET to a long random value"
            )
        import uvicorn

        from starter.app import create_app

        uvicorn.run(
            create_app(settings),
            host=args.host or settings.web_host,
            port=args.port or settings.web_port,
            log_config=None,  # uvicorn's records go through the configured root logger
        )


def _migrate(settings: Settings) -> int:
    from store.migrate import upgrade_sync

    if not settings.database_url:
        raise CliError(
            "DATABASE_URL is not set and no `zhidu dev` stack is running in ZHIDU_DATA_DIR"
        )
    upgrade_sync(settings.database_url)
    print("database schema is up to date")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    exit: ExitFn = os._exit,
    settings: Settings | None = None,
    registry: Registry | None = None,
) -> None:
    """Entry point of the `zhidu` console script. `exit`, `settings` and `registry` are
    injectable for tests (`main([...], exit=sys.exit)`)."""
    code = 0
    long_running = False
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
        if settings is None:
            from settings import get_settings

            settings = get_settings()
        if args.cmd not in ("dev", "regulations"):  # `regulations` reads only the code
            from starter.stackfile import with_dev_database

            settings = with_dev_database(settings)
        if args.cmd in LONG_RUNNING:
            long_running = True
            _run_long(args, settings)
            return
        if args.cmd == "migrate":
            code = _migrate(settings)
        else:
            code = asyncio.run(run_command(args, settings, registry))
    except CliError as exc:
        print(f"zhidu: {exc.message}", file=sys.stderr)
        code = exc.code
    except ServiceError as exc:
        # A validation error leads with the field path; other messages name what they refuse.
        field = f"{exc.field}: " if isinstance(exc, Invalid) and exc.field else ""
        print(f"zhidu: {field}{exc.message}", file=sys.stderr)
        code = 2 if isinstance(exc, Invalid) else 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`zhidu show … | head`): not an error worth a message.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushing at exit must not fail again
        code = 0
    except SystemExit as exc:  # --help
        code = exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:
        if long_running or os.environ.get("ZHIDU_DEBUG"):
            raise
        print(f"zhidu: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if long_running:
        sys.exit(code)
    exit(code)


if __name__ == "__main__":
    main()
