"""StatusLine (two rows): data source, step / total with a bar, steps/s, log folder, TensorBoard URL."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.run_trace import RunState, RunTrace

BAR_CELLS = 16
RERUN_HINT = "[dim]a fix key or [b]r[/b] runs it again[/]"


def progress_bar(done: int, total: int, cells: int = BAR_CELLS) -> str:
    filled = 0 if total <= 0 else min(cells, round(cells * done / total))
    return "█" * filled + "░" * (cells - filled)


def status_content(trace: RunTrace | None, board_url: str, tf_state: str) -> Content:
    """Two lines: how the run is going (and TensorBoard); where its data and logs are."""
    run: list[Content] = []
    where: list[Content] = []
    if trace is None:
        run.append(Content.from_markup("[dim]idle: pick a scenario, press [b]space[/b][/]"))
    else:
        done = trace.last_step + 1
        state = trace.detail if trace.state.waiting and trace.detail else str(trace.state)
        if trace.stopping and trace.active:
            state = "stopping…"
        style = {RunState.FAILED: "$text-error", RunState.RUNNING: "$text-success"}.get(trace.state, "$text")
        run.append(Content.from_markup(f"[b]$name[/b] [b {style}]$state[/]", name=trace.name, state=state))
        run.append(Content.from_markup(
            "$bar $done/$total", bar=progress_bar(done, trace.total_steps), done=done, total=trace.total_steps,
        ))
        if trace.steps_per_second:
            run.append(Content(f"{trace.steps_per_second:.0f} steps/s"))
        if trace.state is RunState.FAILED and trace.detail:
            run.append(Content.from_markup("[$text-error]$detail[/]", detail=trace.detail))
        if not trace.active:
            run.append(Content.from_markup(RERUN_HINT))
        if trace.logdir:
            where.append(Content.from_markup("[dim]logs[/] $logdir", logdir=trace.logdir))
        if trace.data_source:
            where.append(Content.from_markup("[dim]data[/] $source", source=trace.data_source))
    if tf_state:
        run.append(Content.from_markup("[dim]TensorFlow $state[/]", state=tf_state))
    if board_url:
        run.append(Content.from_markup("[b]TensorBoard[/] [u]$url[/]", url=board_url))
    return Content("\n").join([Content(" │ ").join(run), Content(" │ ").join(where)])


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, trace: RunTrace | None, board_url: str = "", tf_state: str = "") -> None:
        self.update(status_content(trace, board_url, tf_state), layout=False)  # fixed size: no relayout at 10 Hz
