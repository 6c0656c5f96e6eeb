"""Every page of every regulation in the registry, read as a Chinese office worker reads it:
a page fails when its visible text holds an untranslated identifier (a snake_case word, a
`role:` prefix), an English phrase on a Chinese page, or a person shown by login id.

Written over the registry, so it covers the regulations the other teams add: for each one its
start form (empty and refused), a case with one open task per task kind (each outcome's form,
signature blocks included), a record of each record kind made from the models of the tasks
that write it, a timeline of the engine's events; and the pages every regulation shares (my
work, cases, admin: users, policy, calendar, notifications). No Temporal is needed: the pages
read PostgreSQL, where this test writes what a case would."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest_asyncio

from starter import users
from starter.app import create_app
from starter.web.forms import is_attachment, resolve_schema
from starter.wording import PERSON_KEYS
from store.models import Case, Event, Record, Signature, Task
from workflows.regulations import REGISTRY, labels_of, roles_of

SNAKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
ROLE_PREFIX = re.compile(r"\brole:")
# Two or more English words in a row (a label, a sentence); brand and format names alone pass.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,.'’-]+[A-Za-z]{2,}){1,}\b")
ALLOWED_ENGLISH = {"SHA", "CSV", "Excel", "Temporal", "zhidu", "English", "KB", "Webhook"}


class Visible(HTMLParser):
    """The text a person sees: no scripts, styles, templates, attributes; elements marked
    `login-id` (where a login id is what is asked for: the user menu, the users table) left out."""

    SKIP = {"script", "style", "template", "head"}
    VOID = {"br", "img", "input", "meta", "link", "hr", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append((tag, tag in self.SKIP or "login-id" in classes))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not any(hidden for _, hidden in self.stack):
            self.parts.append(data)


def visible(page: str) -> str:
    parser = Visible()
    parser.feed(page)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def problems(page: str, login_ids: list[str]) -> list[str]:
    text = visible(page)
    found = [f"identifier {m}" for m in SNAKE.findall(text)]
    found += [
        f"role prefix at {text[m.start() : m.start() + 30]!r}" for m in ROLE_PREFIX.finditer(text)
    ]
    for m in ENGLISH.finditer(text):
        words = set(re.findall(r"[A-Za-z]{2,}", m.group(0)))
        if not words <= ALLOWED_ENGLISH:
            found.append(f"English {m.group(0)!r}")
    for uid in login_ids:
        if re.search(rf"(?<![\w-]){re.escape(uid)}(?![\w-])", text):
            found.append(f"login id {uid}")
    return found


# ---- the organisation and its cases, made from the registry --------------------------------------

ROLE_PEOPLE: dict[str, tuple[str, str]] = {}  # role -> (login id, name)
NAMES = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"


async def people(session_factory: Any) -> tuple[str, list[str]]:
    """One person per role (ids that read like nobody's name), and one holding every role."""
    book = roles_of(REGISTRY)
    codes = [c for c in book.names if c != "system"]
    ids = []
    for i, code in enumerate(codes):
        uid = f"pt{uuid.uuid4().hex[:6]}"
        name = f"测试员{NAMES[i % len(NAMES)]}{i}"
        await users.create_user(session_factory, uid, name, f"{uid}-pass-1", [code],
                                department="测试部", book=book)  # fmt: skip
        ROLE_PEOPLE[code] = (uid, name)
        ids.append(uid)
    everyone = f"pt{uuid.uuid4().hex[:6]}"
    await users.create_user(session_factory, everyone, "全能测试员", f"{everyone}-pass-1", codes,
                            department="测试部", book=book)  # fmt: skip
    return everyone, [*ids, everyone]


def sample(schema: Mapping[str, Any], root: Mapping[str, Any], persons: Mapping[str, str],
           key: str = "") -> Any:  # fmt: skip
    """A value a person could have typed into a field of this schema."""
    prop = resolve_schema(schema, root)
    if is_attachment(prop):
        return {"id": "att_sample000001", "name": "现场照片.jpg", "media_type": "image/jpeg",
                "size": 20480, "sha256": "a" * 64}  # fmt: skip
    if key in persons:
        return ROLE_PEOPLE.get(persons[key], next(iter(ROLE_PEOPLE.values())))[0]
    values = [v for v in prop.get("enum") or [] if v is not None]
    if values:
        return values[0]
    if "const" in prop:
        return prop["const"]
    kind = prop.get("type")
    if kind == "string":
        fmt = prop.get("format")
        if fmt == "date":
            return date.today().isoformat()
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        return "A1" if "pattern" in prop else "示例内容"
    if kind in ("integer", "number"):
        return "120.50" if prop.get("x-decimal") else max(1, int(prop.get("minimum") or 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample(prop.get("items", {}), root, persons)]
    if "properties" in prop:
        return {k: sample(v, root, persons, k) for k, v in prop["properties"].items()}
    return None


def person_fields(entry: Any) -> dict[str, str]:
    """Fields naming a person: the entry's, the labels', and the ones every regulation shares."""
    labels = labels_of(REGISTRY)
    out = dict.fromkeys(PERSON_KEYS, "staff")
    out.update({k: v or "staff" for k, v in labels.persons.items()})
    out.update(entry.people)
    return out


async def make_case(sf: Any, entry: Any, starter_id: str) -> tuple[str, list[str]]:
    """A case of `entry` as the database would hold it: an open task per task kind, a record of
    each record kind (one with a drawn customer signature), the engine's events."""
    # Digits after the dash: six hex letters such as 'fdadea' read as an English word, and
    # 'ptresident-fdadea' as a two-word phrase to the check below (seen once on CI).
    case_id = f"pt{entry.code.replace('_', '').replace('-', '')}-{uuid.uuid4().int % 10**8:08d}"
    schema = entry.input_model.model_json_schema()
    persons = person_fields(entry)
    inp = sample(schema, schema, persons)
    now = datetime.now(UTC)
    specs = getattr(entry.workflow, "_specs", {}) or {}
    record_ids: list[str] = []
    async with sf() as s:
        s.add(Case(id=case_id, regulation=entry.code, title="测试案件", status="open",
                   started_by=starter_id, started_at=now, updated_at=now, input=inp, policy={},
                   summary={}))  # fmt: skip
        for n, (kind, spec) in enumerate(specs.items(), start=1):
            role = spec.role or next(iter(ROLE_PEOPLE))
            sigs = [{"party": g.party, "role": g.role, "methods": list(g.methods),
                     "required": bool(g.required), "outcomes": list(g.outcomes)}
                    for g in spec.signatures]  # fmt: skip
            meta = {"outcomes": list(spec.outcomes), "signatures": sigs,
                    "extend_limits": dict.fromkeys(spec.extend or {}),
                    "pausable_by": list(getattr(spec, "pausable_by", ()) or ())}  # fmt: skip
            s.add(Task(id=f"{case_id}/t{n}", case_id=case_id, regulation=entry.code, role=role,
                       assignee=None, title=f"测试任务{n}", clause="1.1", kind=kind,
                       status="open", due_at=now + timedelta(days=n), created_at=now, data={},
                       meta=meta))  # fmt: skip
            if spec.record is not None:
                data = dict(inp) if isinstance(inp, dict) else {}
                for model in spec.outcomes.values():
                    ms = model.model_json_schema()
                    data.update(sample(ms, ms, persons) or {})
                rid = f"{case_id}/{spec.record.kind}/{n}"
                s.add(Record(id=rid, case_id=case_id, regulation=entry.code,
                             kind=spec.record.kind, title=spec.record.title, data=data,
                             sha256="0" * 64, created_by=starter_id, created_at=now))  # fmt: skip
                record_ids.append(rid)
        events = [("case_started", starter_id, {"regulation": entry.code, "number": None})]
        first = f"{case_id}/t1"
        if specs:
            events += [
                ("task_opened", None, {"task_id": first, "title": "测试任务1", "role": "staff",
                                       "assignee": starter_id, "due_at": now.isoformat()}),
                ("task_completed", starter_id, {"task_id": first, "title": "测试任务1",
                                                "outcome": next(iter(next(iter(specs.values())).outcomes)),
                                                "late": False}),
                ("deadline_extended", starter_id, {"task_id": first, "old_due": now.isoformat(),
                                                   "new_due": now.isoformat(), "reason": "客户出差"}),
                ("breach", None, {"task_id": first, "due_at": now.isoformat()}),
            ]  # fmt: skip
        for rid in record_ids:
            events.append(("record", starter_id, {"record_id": rid, "kind": rid.split("/")[1],
                                                  "title": "《测试记录》"}))  # fmt: skip
        for i, (kind, actor, detail) in enumerate(events, start=1):
            s.add(Event(case_id=case_id, seq=i, at=now, kind=kind, actor=actor, clause=None,
                        detail=detail))  # fmt: skip
        await s.flush()
        if record_ids:
            s.add(Signature(id=f"{record_ids[0]}/sig/1", case_id=case_id, record_id=record_ids[0],
                            signer="王先生", role="customer", method="drawing", signed_at=now,
                            record_sha256="0" * 64, evidence_sha256=None, seal="x",
                            public_key="y", scheme=2))  # fmt: skip
        await s.commit()
    return case_id, record_ids


@pytest_asyncio.fixture(loop_scope="session")
async def site(session_factory, settings_factory, clean_db) -> AsyncIterator[dict[str, Any]]:
    settings = settings_factory(session_secret="pages-test-session-secret-not-the-default")
    app = create_app(settings, session_factory=session_factory)  # the real registry
    yield {"app": app}


async def signed_in(app: Any, uid: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    page = await http.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token
    r = await http.post("/login", data={"login": uid, "password": f"{uid}-pass-1",
                                        "next": "/work", "csrftoken": token.group(1)})  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    return http


async def test_every_page_of_every_regulation_reads_in_chinese_with_people_by_name(
    site, session_factory
) -> None:
    everyone, login_ids = await people(session_factory)
    found: dict[str, list[str]] = {}
    http = await signed_in(site["app"], everyone)
    try:
        urls = ["/work", "/start", "/cases", "/admin/users", "/admin/policy", "/admin/calendar",
                "/admin/notifications"]  # fmt: skip
        for entry in REGISTRY.values():
            case_id, record_ids = await make_case(session_factory, entry, everyone)
            urls += [f"/start/{entry.code}", f"/cases/{case_id}"]
            urls += [f"/records/{rid}" for rid in record_ids]
            # A start refused: every field's reason, in Chinese, by its label.
            form = await http.get(f"/start/{entry.code}")
            token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
            assert token, form.text[:500]
            refused = await http.post(f"/start/{entry.code}", data={"csrftoken": token.group(1)})
            assert refused.status_code in (422, 409), refused.status_code
            if bad := problems(refused.text, login_ids):
                found[f"POST /start/{entry.code}"] = bad
        for url in urls:
            page = await http.get(url)
            assert page.status_code == 200, (url, page.status_code, page.text[:1500])
            if bad := problems(page.text, login_ids):
                found[url] = sorted(set(bad))
    finally:
        await http.aclose()
    assert not found, "\n".join(f"{u}: {b}" for u, b in found.items())


def test_the_reader_catches_what_it_should() -> None:
    page = (
        "<p>需要 <span>role:finance</span> customer_class</p><p>Unable to render this</p>"
        '<p class="login-id">zhang01</p><p>张晓明 zhang01</p><script>var a_b = 1;</script>'
    )
    said = problems(page, ["zhang01"])
    assert "identifier customer_class" in said and any("role prefix" in s for s in said)
    assert any("Unable to render" in s for s in said) and said.count("login id zhang01") == 1
    assert "a_b" not in " ".join(said)
    assert not problems("<p>在 Temporal 控制台中查看 · 导出 CSV · SHA-256 ab12</p>", [])
