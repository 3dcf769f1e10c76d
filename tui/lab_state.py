"""LabState: what the lab knows, apart from how it is drawn.

The scenarios and their load errors, which one is selected, the fixes toggled
for each, which diagnoses were revealed, and each scenario's current and
previous RunTrace (the previous one is drawn dimmed: before / after a fix).
Plain Python, so the rules are tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.runs.recipe import configure
from core.schema.config import RunConfig
from core.schema.fixes import FIXES
from core.schema.scenario import LoadResult, Scenario
from core.system.rundir import run_logdir
from tui.run_trace import RunTrace
from tui.run_worker import RunSpec


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
    previous: RunTrace | None = None
    steps: int | None = None  # the lab's --steps, overriding the scenario's

    @property
    def broken(self) -> bool:
        return self.scenario is None

    def effective_config(self) -> RunConfig | None:
        """The scenario's config with the toggled fixes applied; None for a broken scenario."""
        if self.scenario is None:
            return None
        return configure(self.scenario.config, self.toggled, steps=self.steps)


class LabState:
    def __init__(self, results: list[LoadResult], log_root: Path, steps: int | None = None) -> None:
        self.slots = [
            ScenarioSlot(
                key=str(result.path), name=result.scenario.name if result.scenario else result.path.stem,
                scenario=result.scenario, error=result.error, steps=steps,
            )
            for result in results
        ]
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

    def toggle(self, fix_name: str) -> bool:
        """Toggle a fix for the selected scenario; returns whether it is now on."""
        slot = self.selected
        if slot is None or slot.broken or fix_name not in FIXES:
            return False
        slot.toggled ^= {fix_name}
        return fix_name in slot.toggled

    def new_run(self, slot: ScenarioSlot) -> tuple[RunSpec, RunTrace]:
        """Start a trace for a new run of `slot`; its last run (if it drew anything) becomes `previous`."""
        config = slot.effective_config()
        if config is None:
            raise ValueError(f"{slot.name}: cannot run a scenario that failed to load")
        fixes = tuple(name for name in FIXES if name in slot.toggled)
        run_id, self.next_run_id = self.next_run_id, self.next_run_id + 1
        trace = RunTrace(run_id=run_id, scenario_key=slot.key, config=config, name=slot.name, fixes=fixes)
        if slot.current is not None and slot.current.has_data:
            slot.previous = slot.current
        slot.current = trace
        self.runs[run_id] = trace
        self._forget_unshown()
        spec = RunSpec(run_id, slot.name, config, fixes, run_logdir(self.log_root, slot.name, fixes))
        trace.logdir = str(spec.logdir)
        return spec, trace

    def _forget_unshown(self) -> None:
        """Drop traces no slot shows any more (a third run pushes the first one out)."""
        shown = {id(t) for s in self.slots for t in (s.current, s.previous) if t is not None}
        self.runs = {rid: t for rid, t in self.runs.items() if id(t) in shown or t.active}
