"""FindingsPanel: the doctor's findings for the shown run, as they appear, with step, layers and evidence."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from core.schema.fixes import FIXES
from tui.run_trace import RunTrace

Applies = Callable[[str], bool]  # whether a fix (by name) can apply to the run shown
SEVERITY_STYLE = {"critical": "$text-error", "warning": "$text-warning", "info": "$text-primary"}


def layer_span(layers) -> str:
    layers = list(layers)
    if len(layers) > 3:
        return f"{layers[0]}…{layers[-1]} ({len(layers)})"
    return ", ".join(layers)


def _fix_names(names) -> str:
    return " · ".join(f"{FIXES[name].key} {FIXES[name].label}" for name in names)


def finding_content(finding, applies: Applies | None = None) -> Content:
    """A finding with its evidence; the fixes it suggests that can apply to this run (keys to
    press), and apart from them the ones that would need a change to the learner's code."""
    style = SEVERITY_STYLE.get(finding.severity, "$text")
    where = " · ".join(part for part in (f"step {finding.step}", layer_span(finding.layers)) if part)
    named = [name for name in finding.fixes if name in FIXES]
    usable = [name for name in named if applies is None or applies(name)]
    lines = [
        Content.from_markup(f"[b {style}]●[/] [b]$title[/b] [dim]$where[/]", title=finding.title, where=where),
        Content.from_markup("  $evidence", evidence=finding.evidence),
    ]
    if usable:
        lines.append(Content.from_markup("  [dim]try:[/] [$accent]$fixes[/]", fixes=_fix_names(usable)))
    if len(usable) < len(named):
        others = _fix_names(name for name in named if name not in usable)
        lines.append(Content.from_markup("  [dim]would need a code change: $fixes[/]", fixes=others))
    return Content("\n").join(lines)


def findings_content(current: RunTrace | None, previous: RunTrace | None = None, applies: Applies | None = None) -> Content:
    """The current run's findings; the previous run's below them, dimmed (before the fix)."""
    if current is None:
        return Content.from_markup("[dim]The doctor reports here while a run trains.[/]")
    if current.findings:
        parts = [finding_content(f, applies) for f in current.findings]
    else:
        parts = [Content.from_markup("[dim]$text[/]", text="watching…" if current.active else "no findings for this run.")]
    if previous is not None and previous.findings:
        titles = ", ".join(f.title for f in previous.findings)
        parts.append(Content.from_markup("[dim]before: $titles[/]", titles=titles))
    return Content("\n").join(parts)


class FindingsPanel(VerticalScroll):
    DEFAULT_CSS = """
    FindingsPanel { border: round $panel; border-title-color: $text; padding: 0 1; }
    FindingsPanel > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(findings_content(None))

    def on_mount(self) -> None:
        self.border_title = "doctor"

    def show(self, trace: RunTrace | None, previous: RunTrace | None = None, applies: Applies | None = None) -> None:
        shown = (len(trace.findings), id(trace.primary), trace.active) if trace else None  # primary: the settled verdict
        key = (id(trace), shown, id(previous))
        if key == self._shown:
            return
        self._shown = key
        self.query_one(Static).update(findings_content(trace, previous, applies))
        self.border_title = f"doctor: {len(trace.findings)} finding(s)" if trace and trace.findings else "doctor"
        self.scroll_end(animate=False)
