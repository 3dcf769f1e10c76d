"""The sweep: parallel runs with their own log folders; a crashing run is a row, not a dead sweep."""

from __future__ import annotations

from pathlib import Path

from core.runs.sweep import jobs_for, markdown_table, run_sweep
from core.schema.fixes import FIXES
from core.schema.scenario import discover

TINY = """
from core.schema.config import RunConfig
from core.schema.scenario import Scenario
SCENARIO = Scenario(name="tiny", title="tiny", symptom="s", diagnosis="d",
                    config=RunConfig(hidden_units=8, steps=5, eval_every=5), expected_fixes=("init", "activation"))
"""
CRASH_IN_WORKER = """
import multiprocessing
from core.schema.config import RunConfig
from core.schema.scenario import Scenario
if multiprocessing.current_process().name != "MainProcess":
    raise RuntimeError("boom in the worker")
SCENARIO = Scenario(name="crash", title="crash", symptom="s", diagnosis="d", config=RunConfig(steps=5))
"""


def test_sweep_runs_every_fix_and_reports_crashes_as_rows(tmp_path: Path):
    (tmp_path / "tiny.py").write_text(TINY)
    (tmp_path / "crash.py").write_text(CRASH_IN_WORKER)
    scenarios = [r.scenario for r in discover(tmp_path)]
    jobs = jobs_for(scenarios, None, tmp_path / "logs", None)
    assert len(jobs) == 2 * (1 + len(FIXES)) + 1  # as-is, each fix, and tiny's expected pair
    crash_jobs = [j for j in jobs if j.scenario == "crash"][:2]
    tiny_jobs = [j for j in jobs if j.scenario == "tiny" and j.fixes in ((), ("init",), ("activation", "init"), ("init", "activation"))]
    rows = run_sweep(crash_jobs + tiny_jobs, workers=2)
    crash_rows, tiny_rows = rows[:2], rows[2:]
    assert all("boom in the worker" in r.error for r in crash_rows)
    assert all(not r.error and 0 <= r.test_accuracy <= 1 for r in tiny_rows)
    assert len({r.logdir for r in tiny_rows}) == len(tiny_rows)
    assert all(Path(r.logdir, "train").is_dir() for r in tiny_rows)
    assert [r.expected for r in tiny_rows] == [False, False, True]
    table = markdown_table(rows, baseline_accuracy=0.9)
    assert table.count("\n") == len(rows) + 1 and "boom in the worker" in table
