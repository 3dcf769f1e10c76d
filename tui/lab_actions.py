"""Which lab actions make sense now: one answer for the footer and the command palette.

True: the action can run now; None: it is shown greyed out; False: hidden (another
screen is up and the lab's keys must not act behind its back).
"""

from __future__ import annotations

from tui.bindings import LAB_ACTIONS
from tui.lab_state import ScenarioSlot

SIDE_SCREENS = ("orderings", "experiments")  # screens over the lab


def action_possible(
    action: str, slot: ScenarioSlot | None, *, screen_id: str | None, busy: bool, board_running: bool,
) -> bool | None:
    if screen_id in SIDE_SCREENS:
        return action not in LAB_ACTIONS
    usable = slot is not None and not slot.broken
    selected_active = usable and slot.current is not None and slot.current.active
    if action == "start":
        return (usable and not selected_active) or None
    if action == "restart":  # `r` always runs the selected config again, going or not
        return usable or None
    if action == "stop":
        return busy or None
    if action == "reveal":
        return (usable and slot.script is None and not slot.revealed) or None
    if action == "toggle_fix":
        return usable or None
    if action == "board":
        return not board_running or None
    return True
