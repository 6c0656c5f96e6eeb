"""Regulations as workflows. `REGISTRY` maps a regulation code to its entry."""

from workflows.registry import ActionSpec, RegulationEntry, ScheduleSpec
from workflows.reports import REPORT
from workflows.revisit import REVISIT

REGISTRY: dict[str, RegulationEntry] = {entry.code: entry for entry in (REVISIT, REPORT)}

__all__ = ["REGISTRY", "ActionSpec", "RegulationEntry", "ScheduleSpec"]
