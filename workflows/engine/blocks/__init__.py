"""Building blocks a regulation declares and the engine runs: approval chains
(`approvals.py`), escalation ladders (`ladders.py`) and the discipline register
(`discipline.py`: sanctions and rewards an approval chain decides)."""
