"""Regulations as workflows: the engine (workflows/engine/), one folder per regulation
(workflows/regulations/<code>/) and the registry that lists them (`REGISTRY`)."""

from workflows.registry import ActionSpec, RegulationEntry, ScheduleSpec
from workflows.regulations import REGISTRY

__all__ = ["REGISTRY", "ActionSpec", "RegulationEntry", "ScheduleSpec"]
