"""Task ids: `<case id>/t3`. The API, the pages and the CLI take the short form (`t3`) too."""

from __future__ import annotations


def full_task_id(case_id: str, task_id: str) -> str:
    """`t3` -> `<case id>/t3`; a full task id is returned as is."""
    return task_id if "/" in task_id else f"{case_id}/{task_id}"
