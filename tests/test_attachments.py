"""Attachments and reports on the pages: the upload API (multipart, the server's SHA-256, the
CSRF header with a cookie), the download, a form's file field, a report's tables and charts."""

from __future__ import annotations

import hashlib
import re

import httpx

from starter import users
from starter.app import create_app
from starter.web.forms import build_widgets, is_attachment, parse_form, resolve_schema
from starter.web.records import bar_chart, report_charts
from workflows.model import Attachment, Form


async def test_upload_and_download(session_factory, settings_factory, clean_db) -> None:
    await users.create_user(session_factory, "uploader", "上传人", "uploader-pass-1", ["staff"])
    app = create_app(settings_factory(session_secret="att-test-secret-not-default"),
                     session_factory=session_factory)  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        await http.get("/login")  # the CSRF cookie
        token = http.cookies["csrftoken"]
        r = await http.post("/api/login", json={"login": "uploader", "password": "uploader-pass-1"})
        assert r.status_code == 200, r.text
        content = b"%PDF-1.4 checklist"
        files = {"file": ("检查表.pdf", content, "application/pdf")}
        refused = await http.post("/api/attachments", files=files)
        assert refused.status_code == 403  # a cookie without the CSRF header
        made = await http.post("/api/attachments", files=files, headers={"x-csrftoken": token})
        assert made.status_code == 201, made.text
        ref = Attachment.model_validate(made.json())
        assert ref.sha256 == hashlib.sha256(content).hexdigest() and ref.size == len(content)
        assert re.fullmatch(r"att_[\w-]+", ref.id) and ref.name == "检查表.pdf"
        got = await http.get(f"/api/attachments/{ref.id}")
        assert got.status_code == 200 and got.content == content
        assert got.headers["content-type"] == "application/pdf"
        empty = await http.post("/api/attachments", files={"file": ("a.txt", b"", "text/plain")},
                                headers={"x-csrftoken": token})  # fmt: skip
        assert empty.status_code == 422
        assert (await http.get("/api/attachments/att_nothing_here")).status_code == 404


class Inspection(Form):
    note: str = ""
    checklist: Attachment | None = None
    photos: list[Attachment] = []


def test_a_form_field_of_attachments() -> None:
    schema = Inspection.model_json_schema()
    kinds = {w.name: w.kind for w in build_widgets(schema, schema, {}, {}, "zh")}
    assert kinds["checklist"] == "file" and kinds["photos"] == "files"
    assert is_attachment(resolve_schema(schema["properties"]["checklist"], schema))
    ref = {"id": "att_abcdefgh", "name": "x.pdf", "media_type": "application/pdf", "size": 3,
           "sha256": "a" * 64}  # fmt: skip
    from starlette.datastructures import FormData

    data = parse_form(schema, schema, FormData([("note", "好")]),
                      attached={"checklist": [ref], "photos": [ref, ref]})  # fmt: skip
    assert Inspection.model_validate(data).photos[1].id == "att_abcdefgh"


def test_a_report_chart_is_inline_svg() -> None:
    charts = report_charts([{"title": "按时完成率", "unit": "%",
                             "bars": [{"label": "一月", "value": 80}, {"label": "<b>", "value": 40}]}])  # fmt: skip
    svg = str(charts[0]["svg"])
    assert svg.startswith("<svg") and svg.count('class="bar"') == 2 and "&lt;b&gt;" in svg
    assert "80 %" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert str(bar_chart([], "", "空")).startswith("<svg")
