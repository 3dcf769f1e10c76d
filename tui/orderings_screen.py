"""OrderingsScreen: the six orderings of shuffle, batch and repeat, as tf.data ran them (core.lessons.orderings)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.messages import OrderingsReady

TEXT_MARGIN = 6  # borders, padding and a scrollbar


class OrderingsScreen(Screen):
    BINDINGS = [Binding("escape,e", "app.pop_screen", "Back to the lab", id="orderings.back")]
    DEFAULT_CSS = """
    OrderingsScreen #orderings-scroll { border: round $panel; border-title-color: $text; padding: 0 1; }
    OrderingsScreen #orderings-text { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="orderings")
        self.report = None
        self.error = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="orderings-scroll"):
            yield Static(id="orderings-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        scroll = self.query_one("#orderings-scroll")
        scroll.border_title = "shuffle, batch, repeat: the six orderings on range(10), batch 4, 3 epochs"
        scroll.loading = True
        self.compute()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def compute(self) -> None:
        try:
            from core.lessons.orderings import run_orderings  # TensorFlow runs the pipelines: off the UI thread

            self.post_message(OrderingsReady(run_orderings()))
        except Exception as error:
            self.post_message(OrderingsReady(None, f"{type(error).__name__}: {error}"))

    def on_orderings_ready(self, message: OrderingsReady) -> None:
        self.report, self.error = message.report, message.error
        self.query_one("#orderings-scroll").loading = False
        self.show_report()

    def on_resize(self) -> None:
        self.show_report()

    def show_report(self) -> None:
        text = self.query_one("#orderings-text", Static)
        if self.error:
            text.update(Content.from_markup("[$text-error]The orderings could not run: $error[/]", error=self.error))
        elif self.report is not None:
            from core.lessons.orderings import render_text

            text.update(Content(render_text(self.report, width=max(40, self.size.width - TEXT_MARGIN))))
