"""Customer signature by one-time code ("otp") end to end: the HTTP API and the CLI against the
Temporal dev server and PostgreSQL, with a small test-only regulation on the engine whose
on-site visit tasks need the customer's signature (drawn or by code), like R1's.

Covered: the code is issued (stored hashed, one outbox row, never in the response), a wrong,
expired, reused or exhausted code is refused (422 naming signatures.code) and the task stays
open, a refusal by the workflow does not spend the code, the right code completes the task and
the signature is sealed over server-made evidence `otp:<id>:<hash>` (never the code), and only
the user who may complete the task may ask for or use a code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.engine import FIXED_DEFAULTS, CasePolicy, CaseWorkflow
    from workflows.model import CaseStart
    from workflows.registry import RegulationEntry
    from workflows.regulations.revisit.forms import Contact
    from workflows.regulations.revisit.people import ROLES
    from workflows.spec import NoteData, RecordSpec, Sign, TaskData, TaskSpec

from activities import build_activities
from settings import Settings
from starter import users
from starter.app import create_app
from starter.cli import main
from starter.sigcodes import CODE_FIELD, MAX_CODE_ATTEMPTS
from store.db import SessionFactory
from store.models import Notification, Signature, SignatureCode
from worker import AssertionVerifier, workflow_runner

# ---- a test-only regulation: on-site visits that need the customer's signature -------------------


class SigInput(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    customer_name: str = Field(min_length=1)
    contacts: list[Contact] = Field(min_length=1)


class VisitData(TaskData):
    usage: str = Field(min_length=1)


_VISIT = dict(
    clause="T 1",
    role="staff",
    outcomes={"done": VisitData},
    record=RecordSpec("visit_record", "《客户回访记录表》"),
    signatures=(Sign("actor", "staff"), Sign("customer", "customer", ("drawing", "otp"))),
)


# Not sandboxed: this test module imports the API app and the CLI, which the sandbox refuses to
# re-import; the workflow code is the engine's.
@workflow.defn(name="test.sigcode", sandboxed=False)
class SigWorkflow(CaseWorkflow):
    """t1: on-site visit for any 销售/客服人员; t2: on-site visit assigned to sam; t3: a phone
    call (no signature)."""

    REGULATION = "sigtest"
    ROLES = ROLES
    TASK_DEFAULTS = FIXED_DEFAULTS
    TITLE = "签字测试：{customer_name}"
    INPUT = SigInput
    POLICY = CasePolicy
    TASKS = (
        TaskSpec("visit", "现场回访", **_VISIT),  # type: ignore[arg-type]
        TaskSpec("visit_sam", "现场回访（指定）", assignee="sam", **_VISIT),  # type: ignore[arg-type]
        TaskSpec("call", "电话", "T 1", "staff", outcomes={"done": NoteData}),
    )

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        for kind in ("visit", "visit_sam", "call"):
            self.open(kind)


SIG = RegulationEntry(
    code="sigtest",
    title_zh="签字测试",
    title_en="Signature test",
    workflow=SigWorkflow,
    workflow_name="test.sigcode",
    input_model=SigInput,
    policy_model=CasePolicy,
    start_roles=("staff",),
    workflow_id=lambda i: f"sig-{i.customer_id}",
    case_title=lambda i: f"签字测试：{i.customer_name}",
    customer_id=lambda i: i.customer_id,
    contacts=lambda i: [a for c in i.contacts for a in (c.phone, c.email) if a],
)
REGISTRY: dict[str, RegulationEntry] = {SIG.code: SIG}

KEY = os.environ["ZHIDU_ASSERTION_KEY"].encode("utf-8")
PHONE = "138-0013-8000"
EMAIL = "wang@example.com"
CONTACTS = [
    {"name": "李工", "title": "设备负责人", "phone": None, "email": "li@example.com"},
    {"name": "王经理", "title": "行政", "phone": PHONE, "email": EMAIL},
]


# ---- fixtures and helpers -------------------------------------------------------------------------


@asynccontextmanager
async def sig_worker(
    client: Client, session_factory: SessionFactory, settings: Settings
) -> AsyncIterator[str]:
    queue = f"sig-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[SigWorkflow],
        activities=build_activities(session_factory, settings, client),
        workflow_runner=workflow_runner(strict=True),
        interceptors=[AssertionVerifier(settings.assertion_keys())],
    ):
        yield queue


@pytest_asyncio.fixture(loop_scope="session")
async def env(
    local_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    settings_factory: Any,
    clean_db: None,
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    async with sig_worker(local_env.client, session_factory, settings_factory()) as queue:
        settings = settings_factory(
            temporal_task_queue=queue,
            temporal_address=local_env.client.service_client.config.target_host,
            console_shows_codes=True,  # as on the dev stack: the log delivers the codes
        )
        app = create_app(
            settings, client=local_env.client, session_factory=session_factory, registry=REGISTRY
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for uid, roles in [("sam", ["staff"]), ("ivy", ["staff"]), ("kim", ["supervisor"])]:
                await users.create_user(session_factory, uid, f"测试 {uid}", "secret-12", roles)
            yield http, settings


async def auth(sf: SessionFactory, uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await users.issue_token(sf, uid, 'test')}"}


async def start_case(http: httpx.AsyncClient, h: dict[str, str]) -> str:
    customer = f"C{uuid.uuid4().hex[:8]}"
    r = await http.post(
        "/api/regulations/sigtest/cases",
        json={"customer_id": customer, "customer_name": "华东机械", "contacts": CONTACTS},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def sent_code(sf: SessionFactory, code_id: int) -> str:
    """The code as the customer receives it (the body of its outbox row)."""
    async with sf() as s:
        note = await s.scalar(select(Notification).where(Notification.key == f"sigcode/{code_id}"))
    assert note is not None
    m = re.search(r"验证码：(\d{6})，", note.body)
    assert m is not None, note.body
    return m.group(1)


async def code_row(sf: SessionFactory, code_id: int) -> SignatureCode:
    async with sf() as s:
        row = await s.get(SignatureCode, code_id)
    assert row is not None
    return row


async def age_codes(sf: SessionFactory, task_id: str, by: timedelta) -> None:
    """Move a task's codes into the past (the resend pause and the 10 minutes run out)."""
    async with sf() as s:
        await s.execute(
            update(SignatureCode)
            .where(SignatureCode.task_id == task_id)
            .values(
                created_at=SignatureCode.created_at - by, expires_at=SignatureCode.expires_at - by
            )
        )
        await s.commit()


def visit(signature: dict[str, Any], usage: str | None = "运行正常") -> dict[str, Any]:
    data: dict[str, Any] = {} if usage is None else {"usage": usage}
    return {"outcome": "done", "data": data, "signatures": [signature]}


async def task_status(http: httpx.AsyncClient, h: dict[str, str], task_id: str) -> str:
    r = await http.get(f"/api/cases/{task_id.split('/')[0]}", headers=h)
    return str(next(t["status"] for t in r.json()["tasks"] if t["id"] == task_id))


# ---- tests --------------------------------------------------------------------------------------


async def test_otp_signature_end_to_end(env, session_factory, local_env) -> None:
    http, _ = env
    sam, kim = await auth(session_factory, "sam"), await auth(session_factory, "kim")
    case_id = await start_case(http, sam)
    t1 = f"{case_id}/t1"
    url = f"/api/cases/{case_id}/tasks/t1"

    # Issued: the first contact with a phone; hashed at rest; one outbox row; no code returned.
    r = await http.post(f"{url}/signature-code", headers=sam)
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"code_id", "recipient", "expires_at"} and out["recipient"] == PHONE
    expires = datetime.fromisoformat(out["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    code = await sent_code(session_factory, out["code_id"])
    assert code not in r.text
    row = await code_row(session_factory, out["code_id"])
    assert row.task_id == t1 and row.case_id == case_id and row.recipient == PHONE
    # Keyed with the server's secret: the hash alone does not give the 6 digits back.
    assert row.code_hash == hmac.new(KEY, f"{t1}:{code}".encode(), hashlib.sha256).hexdigest()
    assert row.code_hash != hashlib.sha256(f"{t1}:{code}".encode()).hexdigest()
    assert row.used_at is None and code not in row.code_hash
    async with session_factory() as s:
        notes = list(
            await s.scalars(select(Notification).where(Notification.key.like("sigcode/%")))
        )
    assert [(n.key, n.channel, n.recipient, n.case_id) for n in notes] == [
        (f"sigcode/{out['code_id']}", "console", PHONE, case_id)
    ]
    assert notes[0].body == f"您的签字验证码：{code}，10 分钟内有效（《客户回访记录表》）"

    # Another user (not of the task's role) may neither ask for a code nor use one.
    r = await http.post(f"{url}/signature-code", headers=kim)
    assert r.status_code == 403, r.text
    sig = {"signer_name": "王经理", "method": "otp", "code": code}
    r = await http.post(f"{url}/complete", json=visit(sig), headers=kim)
    assert r.status_code == 403, r.text
    assert (await code_row(session_factory, out["code_id"])).attempts == 0

    # Client-made evidence for otp is refused; so is a code that is not 6 digits.
    forged = {"signer_name": "王经理", "method": "otp", "evidence": f"otp:{row.id}:{row.code_hash}"}
    r = await http.post(f"{url}/complete", json=visit(forged), headers=sam)
    assert r.status_code == 422 and r.json()["field"] == CODE_FIELD
    assert "set by the server" in r.json()["detail"]
    r = await http.post(f"{url}/complete", json=visit({**sig, "code": "12345"}), headers=sam)
    assert r.status_code == 422 and r.json()["field"] == CODE_FIELD

    # Wrong code: 422 naming the field; the task stays open.
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = await http.post(f"{url}/complete", json=visit({**sig, "code": wrong}), headers=sam)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == CODE_FIELD and "wrong one-time code" in r.json()["detail"]
    assert await task_status(http, sam, t1) == "open"
    assert (await code_row(session_factory, out["code_id"])).attempts == 1

    # The right code, but the workflow refuses the rest of the record: the code is not spent.
    r = await http.post(f"{url}/complete", json=visit(sig, usage=None), headers=sam)
    assert r.status_code == 422 and "data.usage" in r.json()["detail"]
    assert (await code_row(session_factory, out["code_id"])).used_at is None

    # The right code: done; the workflow got server-made evidence, never the code.
    r = await http.post(f"{url}/complete", json=visit(sig), headers=sam)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    evidence = f"otp:{row.id}:{row.code_hash}"
    async with session_factory() as s:
        signed = (await s.scalars(select(Signature).where(Signature.case_id == case_id))).all()
    assert {(x.signer, x.role, x.method) for x in signed} == {
        ("sam", "staff", "staff_login"),
        ("王经理", "customer", "otp"),
    }
    customer = next(x for x in signed if x.method == "otp")
    assert customer.evidence_sha256 == hashlib.sha256(evidence.encode()).hexdigest()
    history = await local_env.client.get_workflow_handle(case_id).fetch_history()
    payloads = " ".join(
        base64.b64decode(b).decode("utf-8", "replace")
        for b in re.findall(r'"data": "([A-Za-z0-9+/=]+)"', history.to_json())
    )
    assert evidence in payloads and code not in payloads
    assert (await code_row(session_factory, out["code_id"])).used_at is not None

    # The same code again: the task is done (and the code used).
    r = await http.post(f"{url}/complete", json=visit(sig), headers=sam)
    assert r.status_code == 409 and "already done" in r.json()["detail"]
    # A closed task takes no new code.
    assert (await http.post(f"{url}/signature-code", headers=sam)).status_code == 409


async def test_expired_exhausted_and_recipients(env, session_factory) -> None:
    http, _ = env
    sam, ivy = await auth(session_factory, "sam"), await auth(session_factory, "ivy")
    case_id = await start_case(http, sam)
    t2 = f"{case_id}/t2"
    url = f"/api/cases/{case_id}/tasks/t2"

    # t2 is assigned to sam by name: ivy (same role) may not; a call task takes no signature.
    assert (await http.post(f"{url}/signature-code", headers=ivy)).status_code == 403
    r = await http.post(f"/api/cases/{case_id}/tasks/t3/signature-code", headers=sam)
    assert r.status_code == 422 and r.json()["field"] == "task_id"
    r = await http.post(f"/api/cases/{case_id}/tasks/t9/signature-code", headers=sam)
    assert r.status_code == 404

    # Only a contact of the case may receive the code; an explicit one may be picked.
    r = await http.post(f"{url}/signature-code", json={"recipient": "13900000000"}, headers=sam)
    assert r.status_code == 422 and r.json()["field"] == "recipient"
    r = await http.post(
        f"{url}/signature-code", json={"recipient": "WANG@example.com"}, headers=sam
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["recipient"] == EMAIL

    # No second code right away; after the pause a new one replaces the old.
    r = await http.post(f"{url}/signature-code", headers=sam)
    assert r.status_code == 429, r.text
    await age_codes(session_factory, t2, timedelta(seconds=31))
    r = await http.post(f"{url}/signature-code", headers=sam)
    assert r.status_code == 201
    second = r.json()
    old_code = await sent_code(session_factory, first["code_id"])
    code = await sent_code(session_factory, second["code_id"])
    if old_code != code:  # only the newest code counts
        sig = {"signer_name": "王经理", "method": "otp", "code": old_code}
        r = await http.post(f"{url}/complete", json=visit(sig), headers=sam)
        assert r.status_code == 422 and "wrong" in r.json()["detail"]

    # Expired.
    await age_codes(session_factory, t2, timedelta(minutes=11))
    sig = {"signer_name": "王经理", "method": "otp", "code": code}
    r = await http.post(f"{url}/complete", json=visit(sig), headers=sam)
    assert r.status_code == 422 and r.json()["field"] == CODE_FIELD
    assert "expired" in r.json()["detail"]
    assert await task_status(http, sam, t2) == "open"

    # Too many wrong codes: even the right one is refused afterwards.
    r = await http.post(f"{url}/signature-code", headers=sam)
    assert r.status_code == 201
    third = r.json()
    code = await sent_code(session_factory, third["code_id"])
    wrong = f"{(int(code) + 7) % 10**6:06d}"
    for _ in range(MAX_CODE_ATTEMPTS):
        r = await http.post(f"{url}/complete", json=visit({**sig, "code": wrong}), headers=sam)
        assert r.status_code == 422
    r = await http.post(f"{url}/complete", json=visit({**sig, "code": code}), headers=sam)
    assert r.status_code == 422 and "too many wrong codes" in r.json()["detail"]
    assert await task_status(http, sam, t2) == "open"

    # A fresh code works.
    await age_codes(session_factory, t2, timedelta(seconds=31))
    r = await http.post(f"{url}/signature-code", headers=sam)
    code = await sent_code(session_factory, r.json()["code_id"])
    r = await http.post(f"{url}/complete", json=visit({**sig, "code": code}), headers=sam)
    assert r.status_code == 200, r.text


async def test_cli_sign_code_and_act(env, session_factory, capsys) -> None:
    """The CLI commands; contacts come from the stored case."""
    http, settings = env
    sam = await auth(session_factory, "sam")
    case_id = await start_case(http, sam)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(argv), exit=sys.exit, settings=settings, registry=REGISTRY)
        except SystemExit as exc:
            code = int(exc.code or 0)
        else:
            raise AssertionError("main() returned without calling exit")
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await asyncio.to_thread(run, "sign-code", case_id, "t1", "--as", "kim")
    assert code == 1 and err.count("\n") == 1 and "kim may not act on task" in err, err
    code, out, err = await asyncio.to_thread(
        run, "sign-code", case_id, "t1", "--as", "sam", "--recipient", "nobody@example.com"
    )
    assert code == 2 and err.startswith("zhidu: recipient: "), err
    code, out, err = await asyncio.to_thread(run, "sign-code", case_id, "t1", "--as", "sam")
    assert code == 0, err
    m = re.match(r"sent one-time code (\d+) to (\S+), valid until \S+ \S+ \(China time\)$", out)
    assert m is not None and m.group(2) == PHONE, out
    otp = await sent_code(session_factory, int(m.group(1)))
    assert otp not in out

    def payload(one_time_code: str) -> str:
        sig = {"signer_name": "王经理", "method": "otp", "code": one_time_code}
        return json.dumps(
            {"task_id": "t1", "outcome": "done", "data": {"usage": "好"}, "signatures": [sig]}
        )

    wrong = f"{(int(otp) + 1) % 10**6:06d}"
    code, out, err = await asyncio.to_thread(
        run, "act", case_id, "complete_task", "--as", "sam", "--data", payload(wrong)
    )
    assert code == 2 and err.startswith(f"zhidu: {CODE_FIELD}: wrong one-time code"), err
    code, out, err = await asyncio.to_thread(
        run, "act", case_id, "complete_task", "--as", "sam", "--data", payload(otp)
    )
    assert code == 0, err
    assert out.startswith("t1  done (done)  "), out


async def test_channel_choice(env, session_factory, local_env) -> None:
    """smtp reaches e-mail addresses only; the webhook posts to a staff group chat, so it never
    carries a customer's code."""
    from activities.errors import ServiceError
    from starter.sigcodes import issue_signature_code

    http, settings = env
    sam = await auth(session_factory, "sam")
    case_id = await start_case(http, sam)
    user = await users.get_user(session_factory, "sam")
    assert user is not None
    only_webhook = settings.model_copy(update={"notify_channels": "webhook"})
    with pytest.raises(ServiceError) as err:
        await issue_signature_code(
            session_factory, case_id, "t1", user, None, settings=only_webhook, registry=REGISTRY
        )
    assert err.value.status == 409 and err.value.field == "recipient"
    smtp = settings.model_copy(update={"notify_channels": "smtp", "smtp_host": "localhost"})
    out = await issue_signature_code(
        session_factory, case_id, "t1", user, None, settings=smtp, registry=REGISTRY
    )
    assert out["recipient"] == "li@example.com"  # the first contact smtp can reach
    async with session_factory() as s:
        note = await s.scalar(
            select(Notification).where(
                Notification.case_id == case_id, Notification.key.like("sigcode/%")
            )
        )
    assert note is not None and note.channel == "smtp"
    # Off the dev stack the console delivers nothing to a customer: no code is issued at all.
    console = settings.model_copy(update={"console_shows_codes": False})
    with pytest.raises(ServiceError) as err:
        await issue_signature_code(
            session_factory, case_id, "t1", user, PHONE, settings=console, registry=REGISTRY
        )
    assert err.value.status == 422 and err.value.field == "recipient"


async def test_codes_are_masked_in_logs_and_dropped_once_delivered(
    env, session_factory, caplog
) -> None:
    import logging

    from activities.notify import ConsoleChannel, OutboxDispatcher

    http, settings = env
    sam = await auth(session_factory, "sam")
    case_id = await start_case(http, sam)
    r = await http.post(f"/api/cases/{case_id}/tasks/t1/signature-code", headers=sam)
    code = await sent_code(session_factory, r.json()["code_id"])
    dispatcher = OutboxDispatcher(session_factory, {"console": ConsoleChannel()}, settings)
    with caplog.at_level(logging.INFO, logger="zhidu.notify"):
        while await dispatcher.dispatch_once():
            pass
    assert "******" in caplog.text and code not in caplog.text
    async with session_factory() as s:
        note = await s.scalar(
            select(Notification).where(Notification.key == f"sigcode/{r.json()['code_id']}")
        )
    assert note is not None and note.status == "sent"
    assert code not in note.body and "******" in note.body


async def test_same_code_twice_at_once(env, session_factory) -> None:
    """Two requests with the same right code at the same moment: exactly one signs. The other
    is refused either way the two may run: the code is spent (422) or, when the first request
    completed the task before the second reached the code, the task is already done (409)."""
    http, _ = env
    sam = await auth(session_factory, "sam")
    case_id = await start_case(http, sam)
    url = f"/api/cases/{case_id}/tasks/t1"
    r = await http.post(f"{url}/signature-code", headers=sam)
    code = await sent_code(session_factory, r.json()["code_id"])
    sig = {"signer_name": "王经理", "method": "otp", "code": code}
    results = await asyncio.gather(
        *(http.post(f"{url}/complete", json=visit(sig), headers=sam) for _ in range(2))
    )
    codes = sorted(r.status_code for r in results)
    assert codes in ([200, 409], [200, 422]), [r.text for r in results]
    refused = next(r for r in results if r.status_code != 200).json()["detail"]
    assert ("already been used" if codes[1] == 422 else "is already done") in refused
