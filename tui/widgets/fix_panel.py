"""FixPanel: every fix with its key, its state for the selected scenario, and its reason."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from core.schema.fixes import FIXES
from tui.lab_state import ScenarioSlot


def fix_line(name: str, slot: ScenarioSlot | None) -> tuple[Content, bool]:
    """A fix's line, and whether it is greyed out (it cannot apply to a watched script)."""
    fix = FIXES[name]
    applies, why_not = slot.applicable(name) if slot is not None else (True, "")
    if not applies:
        return Content.from_markup("[dim]· $key $label: $why[/]", key=fix.key, label=fix.label, why=why_not), True
    on = slot is not None and name in slot.toggled
    box = "[b $text-success]■[/]" if on else "[dim]□[/]"
    label = "[b]$label[/b]" if on else "$label"
    line = Content.from_markup(f"{box} [b $accent]$key[/] {label} [dim]$reason[/]", key=fix.key, label=fix.label,
                               reason=fix.reason)
    return line, False


class FixPanel(Vertical):
    """One line per fix. A usable fix's reason is cut at the edge (the palette shows it whole); why a
    fix cannot apply wraps, whole: a learner must read that one."""

    DEFAULT_CSS = """
    FixPanel { height: auto; padding: 0 1; }
    FixPanel > Static { text-wrap: nowrap; text-overflow: ellipsis; }
    FixPanel > Static.-greyed { text-wrap: wrap; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._slot: ScenarioSlot | None = None

    def compose(self) -> ComposeResult:
        for name in FIXES:
            yield Static(id=f"fix-{name}")

    def on_mount(self) -> None:
        self.show_slot(self._slot)

    def show_slot(self, slot: ScenarioSlot | None) -> None:
        self._slot = slot
        if not self.is_mounted:
            return
        for name in FIXES:
            line, greyed = fix_line(name, slot)
            widget = self.query_one(f"#fix-{name}", Static)
            widget.set_class(greyed, "-greyed")
            widget.update(line)

    def render_text(self) -> str:
        """The panel's text, line by line (tests read it)."""
        return "\n".join(str(self.query_one(f"#fix-{name}", Static).render()) for name in FIXES)
