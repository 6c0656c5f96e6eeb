"""The README's walk-through, run as written: the shell block between the walkthrough markers,
through the installed `zhidu` command, against the Temporal dev server, the test database and a
worker with every regulation.

Three things differ from a reader's terminal, and only these: the customer id is made unique
(the dev server is shared by the whole test session), the one-time code is the one the outbox
holds for the customer's phone (a reader copies it from the `zhidu dev` terminal), and the
commands find the stack through the environment instead of `.zhidu/stack.json`."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from starter.users import ensure_demo_users
from store.models import CalendarYear, Notification, Record, Signature, TaskExtension
from tests.helpers import case_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parent.parent
CODE_LINE = re.compile(r"^CODE=\d{6}\b.*$", re.M)


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->")[0]
    fences = re.findall(r"```sh\n(.*?)```", block, re.S)
    assert fences, "the walkthrough has no ```sh fence"
    # The one-time code's line starts a fence of its own, marked: the fences before it paste
    # as they are.
    assert any(f.startswith("CODE=") and "✎" in f.splitlines()[0] for f in fences), fences
    return "".join(fences)


async def bash(script: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", "-e", "-o", "pipefail", "-c", script,
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_readme_walkthrough_runs_as_written(
    local_env: Any, session_factory: Any, settings_factory: Any, clean_db: Any
) -> None:
    script = walkthrough()
    assert "source .venv/bin/activate" in script and CODE_LINE.search(script)
    customer = f"C1024x{uuid.uuid4().hex[:6]}"
    script = script.replace("C1024", customer)
    case_id = f"revisit-{customer}"
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        script = script.replace("source .venv/bin/activate", "true")
    before, after = CODE_LINE.split(script, maxsplit=1)

    await ensure_demo_users(session_factory)
    settings = settings_factory(
        temporal_address=local_env.client.service_client.config.target_host,
        console_shows_codes=True,
    )
    zhidu = shutil.which("zhidu", path=str(Path(sys.executable).parent))
    assert zhidu, "the zhidu console script is not installed next to this Python"
    async with case_worker(local_env.client, session_factory, settings) as queue:
        env = {
            **os.environ,
            "PATH": f"{Path(zhidu).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": settings.database_url or "",
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_TASK_QUEUE": queue,
            "ZHIDU_DATA_DIR": str(settings.data_dir),
            "ZHIDU_CONSOLE_SHOWS_CODES": "1",
        }
        env.pop("ZHIDU_POLICY_FILE", None)
        code, out1, err = await bash(before, env)
        assert code == 0, f"{out1}\n{err}"
        assert f"started {case_id}" in out1
        assert "t1  done (done)" in out1 and "t2  done (agreed)" in out1
        assert "t3  open  due" in out1  # extended by the supervisor
        assert "t3  done (done)" in out1 and "t5  截止" in out1  # zhidu show, in Chinese
        assert "sent one-time code" in out1 and "13800000000" in out1

        # The SMS as the customer's phone receives it (the outbox row; no dispatcher runs here).
        async with session_factory() as s:
            body = await s.scalar(
                select(Notification.body)
                .where(Notification.case_id == case_id, Notification.key.like("sigcode/%"))
                .order_by(Notification.id.desc())
            )
        assert body is not None
        sms = re.search(r"验证码：(\d{6})", body)
        assert sms is not None, body
        code, out2, err = await bash(f"CODE={sms.group(1)}\n{after}", env)
        assert code == 0, f"{out2}\n{err}"

    assert "t5  done (done)" in out2
    assert f"王工（客户，验证码）签字：{case_id}/revisit_record/3/sig/3" in out2
    assert '"ok": true' in out2 and "record is unchanged" in out2
    assert "loaded calendar year 2027" in out2
    async with session_factory() as s:
        kinds = (await s.scalars(select(Record.kind).where(Record.case_id == case_id))).all()
        assert sorted(kinds) == ["revisit_plan", "revisit_record", "revisit_record"]
        sig = await s.get(Signature, f"{case_id}/revisit_record/3/sig/3")
        assert sig is not None and (sig.signer, sig.method) == ("王工", "otp")
        granted = (
            await s.scalars(
                select(TaskExtension.granted_by).where(TaskExtension.task_id == f"{case_id}/t3")
            )
        ).all()
        assert granted == ["supervisor"]
        assert await s.get(CalendarYear, 2027) is not None
