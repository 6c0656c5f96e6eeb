"""API fuzzing with schemathesis against the real app (served by uvicorn), the real database, the
Temporal dev server and a worker running every regulation: examples, coverage, fuzzing and the
stateful phase, bounded. Required: no server error, and every response as documented."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from bench.local import free_port, serving
from starter import users
from starter.app import create_app
from tests.helpers import case_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


async def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    local_env, session_factory, clean_db, settings_factory, database_url, tmp_path
) -> None:
    roles = ["staff", "supervisor", "clerk", "admin", "division_leader", "finance"]
    await users.create_user(session_factory, "fuzz", "模糊测试", "fuzz-pass-123", roles)
    token = await users.issue_token(session_factory, "fuzz", "fuzz")
    port = free_port()
    settings = settings_factory(
        temporal_address=local_env.client.service_client.config.target_host,
        temporal_task_queue=f"fuzz-{port}",
        session_secret="fuzz-session-secret-not-the-default",
    )
    # A real case, so the case and task routes reach their logic with real ids as well.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        '[parameters]\n"path.case_id" = "revisit-FUZZ1"\n"path.task_id" = "t1"\n',
        encoding="utf-8",
    )
    async with case_worker(
        local_env.client, session_factory, settings, settings.temporal_task_queue
    ):
        with serving(create_app(settings), port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                started = await http.post(
                    "/api/regulations/revisit/cases",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"customer_id": "FUZZ1", "customer_name": "模糊", "go_live": "2026-11-01",
                          "owner": "fuzz", "supervisor": "fuzz", "contacts": [{"name": "王工"}]},
                )  # fmt: skip
                assert started.status_code == 201, started.text
            proc = await asyncio.create_subprocess_exec(
                str(SCHEMATHESIS), "--config-file", str(config), "run",
                f"http://127.0.0.1:{port}/openapi.json",
                # Revoking tokens would revoke the fuzzer's own and end the run early.
                "--exclude-method", "DELETE",
                "--checks", "not_a_server_error,response_schema_conformance",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", "15", "--seed", "20261128", "--workers", "1",
                "--request-timeout", "40", "--max-time", "100", "--no-color",
                "--generation-database", "none",
                "-H", f"Authorization: Bearer {token}",
                "--report", "junit", "--report-dir", str(tmp_path),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=200)
    text = out.decode("utf-8", "replace")
    print(text[-6000:])
    assert proc.returncode == 0, text[-6000:]
    assert "No issues found" in text or "0 failures" in text or "passed" in text.lower()
