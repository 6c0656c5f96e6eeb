"""Regulations as workflows. `REGISTRY` maps a regulation code to its entry."""

from workflows.registry import ActionSpec, RegulationEntry
from workflows.revisit import REVISIT

REGISTRY: dict[str, RegulationEntry] = {entry.code: entry for entry in (REVISIT,)}

__all__ = ["REGISTRY", "ActionSpec", "RegulationEntry"]
