"""ScenarioList: the scenarios to pick from, broken ones shown with their error."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.lab_state import ScenarioSlot
from tui.run_trace import RunState

# The glyph before a scenario: what its latest run did.
ERROR_CHARS = 60  # the whole error is in the info panel below the list
RUN_MARKS = {RunState.STARTING: "▶", RunState.LOADING: "▶", RunState.RUNNING: "▶", RunState.FINISHED: "✓",
             RunState.STOPPED: "■", RunState.FAILED: "✗"}


def slot_prompt(slot: ScenarioSlot) -> Content:
    if slot.broken:
        error = slot.error.removeprefix(f"{slot.name}.py: ")
        error = error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…"
        return Content.from_markup("[$text-error]✗ $name: $error[/]", name=slot.name, error=error)
    mark = RUN_MARKS.get(slot.current.state, " ") if slot.current else " "
    if slot.script is not None:
        return Content.from_markup("$mark [b]$name[/b] [dim italic]script: $style[/]", mark=mark, name=slot.name, style=slot.script.style)
    title = slot.scenario.title.removeprefix(f"{slot.name}:").strip()
    return Content.from_markup("$mark [b]$name[/b] [dim]$title[/]", mark=mark, name=slot.name, title=title)


class ScenarioList(OptionList):
    """One option per scenario file; the app listens for OptionHighlighted to select."""

    DEFAULT_CSS = """
    ScenarioList { height: auto; max-height: 12; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show_slots(self, slots: list[ScenarioSlot]) -> None:
        """Build the options (first call) or refresh their prompts (run marks changed)."""
        if self.option_count != len(slots):
            highlighted = self.highlighted
            self.set_options(Option(slot_prompt(slot), id=slot.key) for slot in slots)
            self.highlighted = highlighted if highlighted is not None else (0 if slots else None)
            return
        for index, slot in enumerate(slots):
            self.replace_option_prompt_at_index(index, slot_prompt(slot))
