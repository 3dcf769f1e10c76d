"""The doctor: diagnoses training failures from a History, live or from logs on disk.

    from core.doctor import LiveDoctor, diagnose
    doctor = LiveDoctor(config=config)       # live: doctor.update(record) -> new findings
    diagnosis = diagnose(history)            # offline: a History read from event files
    core.runs.verify.verify(config, diagnosis)   # re-run the suggested fix: before/after
"""

from core.doctor.engine import diagnose
from core.doctor.findings import Diagnosis, Finding, RuledOut, SkippedCheck
from core.doctor.live import LiveDoctor
from core.doctor.render import render_diagnosis
from core.doctor.rules import EXPLAINED_BY, RULES, Rule, primary_finding

__all__ = [
    "EXPLAINED_BY", "RULES", "Diagnosis", "Finding", "LiveDoctor", "Rule", "RuledOut", "SkippedCheck",
    "diagnose", "primary_finding", "render_diagnosis",
]
