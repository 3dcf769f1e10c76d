"""The lab's commands in the command palette (ctrl+p): the same actions as the keys, with
longer explanations, offered only when they can run now (as the footer enables them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from core.schema.fixes import FIXES

if TYPE_CHECKING:
    from tui.app import LabApp


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str  # the app's action_<name>, as bound to its key
    parameters: tuple[str, ...] = ()


COMMANDS: tuple[PaletteCommand, ...] = (
    PaletteCommand("Start run", "Train the selected scenario (space)", "start"),
    PaletteCommand("Rerun", "Run the selected scenario again with the current fixes, now (r)", "restart"),
    PaletteCommand("Stop run", "Stop training; the event files are closed (x)", "stop"),
    PaletteCommand("Reveal diagnosis", "Show what is wrong with the selected scenario (?)", "reveal"),
    PaletteCommand("Start TensorBoard", "TensorBoard on 127.0.0.1 for the log folder (t)", "board"),
    PaletteCommand("Shuffle, batch, repeat orderings", "What the six orderings of tf.data really produce (e)", "orderings"),
    PaletteCommand("Experiments and pipeline speed",
                   "tanh vs ReLU, depth, initialisation, and how fast each tf.data pipeline feeds training (p)",
                   "experiments"),
    PaletteCommand("Input batch and doctor", "Show or hide the input batch and the doctor's findings (v)", "toggle_details"),
    *(PaletteCommand(f"Toggle fix: {fix.label} ({fix.key})", f"{fix.reason}; reruns at once once the scenario has run",
                     "toggle_fix", (name,)) for name, fix in FIXES.items()),
)


class LabCommands(Provider):
    """Offers the lab's commands that are possible on the screen the palette was opened over."""

    @property
    def lab(self) -> LabApp:
        return cast("LabApp", self.app)

    def possible(self) -> list[tuple[PaletteCommand, object]]:
        """(command, callback) for each command the lab can run now."""
        return [
            (command, partial(getattr(self.lab, f"action_{command.action}"), *command.parameters))
            for command in COMMANDS
            if self.lab.action_possible(command.action, command.parameters, self.screen) is True
        ]

    async def discover(self) -> Hits:
        for command, callback in self.possible():
            yield DiscoveryHit(command.title, callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command, callback in self.possible():
            if (score := matcher.match(command.title)) > 0:
                yield Hit(score, matcher.highlight(command.title), callback, help=command.help)
