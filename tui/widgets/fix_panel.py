"""FixPanel: every fix with its key, its state for the selected scenario, and its reason."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.schema.fixes import FIXES
from tui.lab_state import ScenarioSlot


def fix_lines(slot: ScenarioSlot | None) -> Content:
    toggled = slot.toggled if slot is not None else set()
    lines = []
    for name, fix in FIXES.items():
        applies, why_not = slot.applicable(name) if slot is not None else (True, "")
        if not applies:  # a watched script: greyed out, with the reason
            lines.append(Content.from_markup("[dim]· $key $label: $why[/]", key=fix.key, label=fix.label, why=why_not))
            continue
        on = name in toggled
        box = "[b $text-success]■[/]" if on else "[dim]□[/]"
        label = "[b]$label[/b]" if on else "$label"
        lines.append(Content.from_markup(
            f"{box} [b $accent]$key[/] {label} [dim]$reason[/]", key=fix.key, label=fix.label, reason=fix.reason,
        ))
    return Content("\n").join(lines)


class FixPanel(Static):
    """One line per fix; long reasons are cut at the panel's edge (the palette shows them whole)."""

    DEFAULT_CSS = """
    FixPanel { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show_slot(self, slot: ScenarioSlot | None) -> None:
        self.update(fix_lines(slot))
