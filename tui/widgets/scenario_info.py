"""ScenarioInfo: the selected scenario's symptom, and its diagnosis once the learner asks."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.schema.config import RunConfig
from tui.lab_state import ScenarioSlot


def config_summary(config: RunConfig) -> str:
    """The parts of a config the fixes change, in one short line."""
    softmax = " · softmax→loss" if config.softmax_before_loss else ""
    noise = f" · noise σ{config.input_noise_std:g}" if config.input_noise_std else ""
    labels = " · labels shuffled" if config.shuffle_labels else ""
    return (
        f"{config.hidden_layers}×{config.hidden_units} {config.activation} · init {config.init} · "
        f"{config.optimizer} lr {config.learning_rate:g} · inputs {config.normalization}"
        f"{noise}{softmax}{labels} · {config.steps} steps"
    )


def info_content(slot: ScenarioSlot | None) -> Content:
    if slot is None:
        return Content.from_markup("[dim]No scenarios found. Point the lab at a folder with --scenarios DIR.[/]")
    if slot.broken:
        return Content.from_markup(
            "[b $text-error]$name failed to load[/]\n$error\n[dim]Fix the file; the rest of the lab still works.[/]",
            name=slot.label, error=slot.error,
        )
    if slot.script is not None:
        return script_content(slot)
    scenario = slot.scenario
    parts = [Content.from_markup(
        "[b]$title[/b]\n$symptom\n[dim italic]$summary[/]",
        title=scenario.title, symptom=scenario.symptom, summary=config_summary(slot.effective_config()),
    )]
    if slot.revealed:
        parts.append(Content.from_markup("\n[b $text-warning]Diagnosis[/] $diagnosis", diagnosis=scenario.diagnosis))
    else:
        parts.append(Content.from_markup("\n[dim]Diagnosis hidden: press [b]?[/b] to reveal it.[/]"))
    return Content("").join(parts)


SCRIPT_LINES_SHOWN = 8  # the newest; the info pane is short


def script_content(slot: ScenarioSlot) -> Content:
    """A watched script: where it is, how to use it, and its newest output."""
    script = slot.script
    parts = [Content.from_markup(
        "[b]$name[/b] [dim]your script ($style), run unmodified · save the file to run it again[/]",
        name=script.path.name, style=script.style,
    )]
    if script.output:
        lines = list(script.output)[-SCRIPT_LINES_SHOWN:]
        parts.append(Content.from_markup("\n[b]output[/b]\n$lines", lines="\n".join(lines)))
    return Content("").join(parts)


class ScenarioInfo(Static):
    DEFAULT_CSS = """
    ScenarioInfo { height: auto; padding: 0 1; }
    """

    def show_slot(self, slot: ScenarioSlot | None) -> None:
        self.update(info_content(slot))
