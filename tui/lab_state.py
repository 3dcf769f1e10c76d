"""LabState: what the lab knows, apart from how it is drawn.

The scenarios and their load errors, which one is selected, the fixes toggled
for each, which diagnoses were revealed, and each scenario's current RunTrace and
its "before" (drawn dimmed: before / after a fix): the newest earlier run that
completed with a different config, never a run aborted by the next toggle.
Plain Python, so the rules are tested without a terminal.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.recipe import configure
from core.schema.config import RunConfig
from core.schema.fixes import FIXES
from core.schema.scenario import LoadResult, Scenario
from core.system.rundir import run_logdir
from tui.run_trace import RunState, RunTrace
from tui.run_worker import RunSpec


SCRIPT_STEPS_SHOWN = 2000  # a script's length is unknown before it ends; the course's scripts run 2000 steps
OUTPUT_LINES_KEPT = 200
# A run stopped before this many steps (a second fix toggled right after the first) is no
# comparison: it is never "before". A run that reached its own end counts however short.
MIN_BEFORE_STEPS = 50
BASELINE_NAME = "baseline"  # fails/baseline.py: the reference a fixed run is compared with
EARLIER_RUNS_KEPT = 3  # completed earlier runs kept per scenario, newest last


def completed(trace: RunTrace) -> bool:
    """Long enough to compare against: MIN_BEFORE_STEPS steps, or the run's own end."""
    return trace.last_step + 1 >= MIN_BEFORE_STEPS or (trace.state is RunState.FINISHED and trace.has_data)


def before_run(current: RunTrace | None, earlier: list[RunTrace]) -> RunTrace | None:
    """The newest completed earlier run whose config differs from the current run's."""
    for trace in reversed(earlier):
        if completed(trace) and (current is None or trace.config_key != current.config_key):
            return trace
    return None


@dataclass
class ScriptSlot:
    """What the lab knows of a plain script: which fixes can apply, its latest output."""

    path: Path
    plan: dict  # fix name -> core.watch.scan.FixPlan
    style: str
    mtime: float = 0.0  # when the last run started: a newer one means the file was saved
    output: deque = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES_KEPT))
    error: str = ""  # the last run's traceback, trimmed to the script's frames


def script_slot(path: Path) -> tuple[ScriptSlot | None, str]:
    """A ScriptSlot for a plain script, or the one-line reason it cannot be watched."""
    from core.watch.scan import ScanError, plan_fixes, scan_script

    try:
        scan = scan_script(path)
    except ScanError as error:
        return None, str(error)
    return ScriptSlot(path, plan_fixes(scan), scan.style), ""


@dataclass
class ScenarioSlot:
    """One entry of the scenario list, loaded or broken."""

    key: str  # the file path: unique even when two folders hold a fail1.py
    name: str
    scenario: Scenario | None
    error: str = ""
    toggled: set[str] = field(default_factory=set)
    revealed: bool = False
    current: RunTrace | None = None
    earlier: list[RunTrace] = field(default_factory=list)  # runs before the current one, newest last
    steps: int | None = None  # the lab's --steps, overriding the scenario's
    script: ScriptSlot | None = None  # a plain training script, watched (tblab watch) instead of trained

    @property
    def label(self) -> str:
        """The name the lab shows: a learner's script by its file and folder (`fail2.py (my_scripts/)`),
        never like a built-in scenario of the same name."""
        if self.script is None:
            return self.name
        path = self.script.path.resolve()
        return f"{path.name} ({path.parent.name}/)" if path.parent.name else path.name

    @property
    def previous(self) -> RunTrace | None:
        """The run drawn dimmed behind the current one ("before")."""
        return before_run(self.current, self.earlier)

    def retire_current(self) -> None:
        """The current run becomes an earlier one; runs that can never be "before" are dropped."""
        if self.current is not None:
            self.earlier.append(self.current)
        kept = [t for t in self.earlier if t.active or completed(t)]
        self.earlier = kept[-EARLIER_RUNS_KEPT:]

    @property
    def broken(self) -> bool:
        return self.scenario is None and self.script is None

    def applicable(self, fix_name: str) -> tuple[bool, str]:
        """Whether a fix can apply here, and why not (scenarios take every fix)."""
        if self.script is None:
            return True, ""
        plan = self.script.plan.get(fix_name)
        return (plan.applies, plan.how) if plan is not None else (False, "unknown fix")

    def fix_text(self) -> str:
        """The toggled fixes in words, for notifications."""
        return "fixes: " + ", ".join(FIXES[n].label for n in FIXES if n in self.toggled) if self.toggled else "no fixes"

    def applies(self, fix_name: str) -> bool:
        return self.applicable(fix_name)[0]

    def effective_config(self) -> RunConfig | None:
        """The scenario's config with the toggled fixes applied; None for a broken scenario.
        A script has no config: a default one stands in (the plots' step count)."""
        if self.script is not None:
            return RunConfig(steps=self.steps or SCRIPT_STEPS_SHOWN)
        if self.scenario is None:
            return None
        return configure(self.scenario.config, self.toggled, steps=self.steps)


class LabState:
    def __init__(self, results: list[LoadResult], log_root: Path, steps: int | None = None) -> None:
        self.slots = []
        for result in results:
            script, error = script_slot(result.path) if result.script else (None, result.error)
            self.slots.append(ScenarioSlot(
                key=str(result.path), name=result.scenario.name if result.scenario else result.path.stem,
                scenario=result.scenario, error=error, steps=steps, script=script,
            ))
        self.log_root = Path(log_root)
        self.steps = steps  # the lab's --steps (also the experiments screen's override)
        self.selected_index = 0
        self.next_run_id = 1
        self.runs: dict[int, RunTrace] = {}

    @property
    def selected(self) -> ScenarioSlot | None:
        return self.slots[self.selected_index] if self.slots else None

    def select(self, index: int) -> None:
        if 0 <= index < len(self.slots):
            self.selected_index = index

    def baseline_accuracy(self) -> float | None:
        """The test accuracy of this session's last finished as-is run of the baseline scenario, if any."""
        for slot in self.slots:
            if slot.name == BASELINE_NAME and slot.script is None:
                for trace in reversed([*slot.earlier, slot.current]):
                    if trace is not None and trace.state is RunState.FINISHED and not trace.fixes:
                        return trace.test_accuracy if math.isfinite(trace.test_accuracy) else None
        return None

    def toggle(self, fix_name: str) -> bool:
        """Toggle a fix for the selected scenario; returns whether it is now on."""
        slot = self.selected
        if slot is None or slot.broken or fix_name not in FIXES or not slot.applicable(fix_name)[0]:
            return False
        slot.toggled ^= {fix_name}
        return fix_name in slot.toggled

    def new_run(self, slot: ScenarioSlot) -> tuple[RunSpec, RunTrace]:
        """Start a trace for a new run of `slot`; its last run joins the earlier ones."""
        config = slot.effective_config()
        if config is None:
            raise ValueError(f"{slot.name}: cannot run a scenario that failed to load")
        fixes = tuple(name for name in FIXES if name in slot.toggled)
        run_id, self.next_run_id = self.next_run_id, self.next_run_id + 1
        trace = RunTrace(run_id=run_id, scenario_key=slot.key, config=config, name=slot.label, fixes=fixes)
        source = _mtime(slot.script.path) if slot.script is not None else 0.0  # a saved script is a new config
        trace.config_key = (config, fixes, source)
        slot.retire_current()
        slot.current = trace
        self.runs[run_id] = trace
        self._forget_unshown()
        spec = RunSpec(
            run_id, slot.name, config, fixes, run_logdir(self.log_root, slot.name, fixes),
            script=slot.script.path if slot.script else None, steps=slot.steps,
        )
        if slot.script is not None:
            slot.script.output.clear()
            slot.script.error = ""
            slot.script.mtime = source
        trace.logdir = str(spec.logdir)
        return spec, trace

    def status_trace(self, active_id: int | None) -> RunTrace | None:
        """The selected scenario's run if it is starting or going, else whatever run is going."""
        slot = self.selected
        if slot is not None and slot.current is not None and slot.current.active:
            return slot.current
        return self.runs.get(active_id) or (slot.current if slot else None)

    def mark_stopping(self, run_id: int) -> None:
        """The run was asked to stop (it ends at its next step)."""
        trace = self.runs.get(run_id)
        if trace is not None:
            trace.stopping = True
            trace.version += 1

    def end_trace(self, run_id: int, state: RunState, detail: str) -> None:
        """A run that ends without a word from its worker (replaced or stopped before it started)."""
        trace = self.runs.get(run_id)
        if trace is not None:
            trace.set_state(state, detail)

    def _forget_unshown(self) -> None:
        """Drop traces no slot keeps any more (aborted runs, and the oldest completed ones)."""
        shown = {id(t) for s in self.slots for t in (s.current, *s.earlier) if t is not None}
        self.runs = {rid: t for rid, t in self.runs.items() if id(t) in shown or t.active}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def saved_scripts(slots: list[ScenarioSlot]) -> list[ScenarioSlot]:
    """Script slots whose file changed since their last run started (edit, save: re-run)."""
    return [
        slot for slot in slots
        if slot.script is not None and slot.current is not None and _mtime(slot.script.path) > slot.script.mtime
    ]
