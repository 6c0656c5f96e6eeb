"""Building blocks a regulation declares and the engine runs: approval chains
(`approvals.py`) and escalation ladders (`ladders.py`)."""
