"""The doctor: diagnoses training failures from a History, live or from logs on disk.

    from core.doctor import diagnose, LiveDoctor
    diagnosis = diagnose(history)            # offline: a History read from event files
    doctor = LiveDoctor()                    # live: doctor.update(record) -> new findings
"""

from core.doctor.engine import diagnose
from core.doctor.findings import Diagnosis, Finding, SkippedCheck
from core.doctor.live import LiveDoctor
from core.doctor.rules import EXPLAINED_BY, RULES, Rule, primary_finding

__all__ = [
    "EXPLAINED_BY", "RULES", "Diagnosis", "Finding", "LiveDoctor", "Rule", "SkippedCheck",
    "diagnose", "primary_finding",
]
