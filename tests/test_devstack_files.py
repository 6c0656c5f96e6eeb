"""The CLI follows a running `zhidu dev`: its Temporal address and console (written to
<data dir>/stack.json), unless the environment says otherwise."""

from __future__ import annotations

import json
import os

from settings import Settings
from starter.stackfile import STACK_FILE, running_stack, with_dev_database


def test_cli_follows_the_dev_stacks_temporal(tmp_path, monkeypatch) -> None:
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_UI_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.model_validate({"data_dir": tmp_path})
    assert with_dev_database(settings).temporal_address == "127.0.0.1:7233"  # no stack
    info = {"temporal_address": "127.0.0.1:17233", "temporal_ui_url": "http://127.0.0.1:18233",
            "console_shows_codes": True, "pid": os.getpid()}  # fmt: skip
    (tmp_path / STACK_FILE).write_text(json.dumps(info), encoding="utf-8")
    followed = with_dev_database(settings)
    assert followed.temporal_address == "127.0.0.1:17233"
    assert followed.temporal_ui_url == "http://127.0.0.1:18233" and followed.console_shows_codes
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")  # the environment wins
    assert (
        with_dev_database(
            Settings.model_validate(
                {"data_dir": tmp_path, "temporal_address": "temporal.example:7233"}
            )
        ).temporal_address
        == "temporal.example:7233"
    )
    # A stack that is gone is not followed.
    (tmp_path / STACK_FILE).write_text(json.dumps({**info, "pid": 999_999_999}), encoding="utf-8")
    assert running_stack(tmp_path) is None
