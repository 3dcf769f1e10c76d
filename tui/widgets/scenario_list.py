"""ScenarioList: the scenarios to pick from, broken ones shown with their error."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.lab_state import ScenarioSlot
from tui.run_outcome import outcome

ERROR_CHARS = 60  # the whole error is in the info panel below the list


def slot_prompt(slot: ScenarioSlot, baseline_accuracy: float | None = None) -> Content:
    """The scenario's name and what its latest run came to: running, failed (the finding), repaired..."""
    if slot.broken:
        error = slot.error.removeprefix(f"{slot.name}.py: ")
        error = error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…"
        return Content.from_markup("[$text-error]✗ $name: $error[/]", name=slot.name, error=error)
    if slot.script is not None:
        title = f"your script: {slot.script.style}"
    else:
        title = slot.scenario.title.removeprefix(f"{slot.name}:").strip()
    if slot.current is None:
        return Content.from_markup("  [b]$name[/b] [dim]$title[/]", name=slot.label, title=title)
    done = outcome(slot.current, baseline_accuracy)
    return Content.from_markup(
        f"[{done.style}]$mark[/] [b]$name[/b] [{done.style}]$word[/] [dim]$title[/]",
        mark=done.mark, name=slot.label, word=done.word, title=title,
    )


class ScenarioList(OptionList):
    """One option per scenario file; the app listens for OptionHighlighted to select."""

    DEFAULT_CSS = """
    ScenarioList { height: auto; max-height: 12; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show_slots(self, slots: list[ScenarioSlot], baseline_accuracy: float | None = None) -> None:
        """Build the options (first call) or refresh their prompts (run marks changed)."""
        if self.option_count != len(slots):
            highlighted = self.highlighted
            self.set_options(Option(slot_prompt(slot, baseline_accuracy), id=slot.key) for slot in slots)
            self.highlighted = highlighted if highlighted is not None else (0 if slots else None)
            return
        for index, slot in enumerate(slots):
            self.replace_option_prompt_at_index(index, slot_prompt(slot, baseline_accuracy))
