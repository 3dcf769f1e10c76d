"""The lab's layout: its widgets, kept by reference, and how they are arranged (styled in lab.tcss)."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer

from tui.widgets.accuracy_plot import AccuracyPlot
from tui.widgets.findings_panel import FindingsPanel
from tui.widgets.fix_panel import FixPanel
from tui.widgets.grad_norm_plot import GradNormPlot
from tui.widgets.input_view import InputView
from tui.widgets.loss_plot import LossPlot
from tui.widgets.results_line import ResultsLine
from tui.widgets.scenario_info import ScenarioInfo
from tui.widgets.scenario_list import ScenarioList
from tui.widgets.status_line import StatusLine
from tui.widgets.trace_plot import TracePlot
from tui.widgets.unit_fraction_plot import UnitFractionPlot


@dataclass
class Views:
    """The lab's widgets, kept by reference: they stay reachable while another screen
    (the command palette) is on top, when queries would look at that screen instead."""

    scenarios: ScenarioList = field(default_factory=lambda: ScenarioList(id="scenarios"))
    info: ScenarioInfo = field(default_factory=lambda: ScenarioInfo(id="info"))
    fixes: FixPanel = field(default_factory=lambda: FixPanel(id="fixes"))
    plots: tuple[TracePlot, ...] = field(default_factory=lambda: (
        LossPlot(id="loss"), AccuracyPlot(id="accuracy"), GradNormPlot(id="grads"), UnitFractionPlot(id="units"),
    ))
    inputs: InputView = field(default_factory=lambda: InputView(id="inputs"))
    findings: FindingsPanel = field(default_factory=lambda: FindingsPanel(id="findings"))
    results: ResultsLine = field(default_factory=lambda: ResultsLine(id="results"))
    status: StatusLine = field(default_factory=lambda: StatusLine(id="status"))
    work: Vertical = field(default_factory=lambda: Vertical(id="work"))
    bottom: Horizontal = field(default_factory=lambda: Horizontal(id="bottom"))
    info_scroll: VerticalScroll = field(default_factory=lambda: VerticalScroll(id="info-scroll"))

    def compose(self) -> ComposeResult:
        """Scenarios, their info and the fixes on the left; plots, input batch and doctor on the right."""
        with Horizontal(id="main"):
            with Vertical(id="side"):
                yield self.scenarios
                with self.info_scroll:
                    yield self.info
                yield self.fixes
            with self.work:
                with Grid(id="plots"):
                    yield from self.plots
                with self.bottom:
                    yield self.inputs
                    yield self.findings
        yield self.results
        yield self.status
        yield Footer(compact=True)
