"""Scenarios: a failing (or healthy) training script as the lab sees it, and loading them.

A scenario file in fails/ (or a user's folder) is a plain Python file that defines
SCENARIO = Scenario(...) and, like the classic handout, trains when run on its own.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from core.schema.config import RunConfig
from core.schema.fixes import FixName, check_fix_names

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "fails"


# A file without SCENARIO that shows one of these is a user's training script, not a broken scenario.
TRAINING_SIGNS = ("GradientTape", ".fit(")


class ScenarioError(Exception):
    """A scenario file that cannot be loaded; the message names the file."""


class NotAScenario(ScenarioError):
    """A Python file with no SCENARIO in it: a plain training script (`tblab watch` runs those)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    symptom: str  # what a learner sees before diagnosing: no spoilers
    diagnosis: str  # hidden until asked for
    config: RunConfig
    expected_fixes: tuple[FixName, ...] = ()
    # Why the expected fixes stop short of the baseline (within 3 points), when they do.
    fix_shortfall: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        check_fix_names(self.expected_fixes, f"scenario {self.name}")


@dataclass(frozen=True)
class LoadResult:
    """One file of a scenario folder: its scenario, or the one-line reason it failed."""

    path: Path
    scenario: Scenario | None = None
    error: str = ""
    script: bool = False  # a plain training script, not a scenario: the lab watches it


def load_scenario_file(path: str | Path) -> Scenario:
    """Import a scenario file and return its SCENARIO; any failure becomes ScenarioError."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        source = path.read_text(errors="replace")
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read: {error.strerror or error}") from None
    trains = any(sign in source for sign in TRAINING_SIGNS)
    if "SCENARIO" not in source and trains:  # a plain training script: importing it would run its training
        raise NotAScenario(f"{path}: defines no SCENARIO = Scenario(...); to run your own training script: tblab watch {path}")
    module_name = f"tblab_scenario_{path.stem}_{abs(hash(str(path.resolve())))}"
    try:
        # An explicit source loader: any file name is read as Python (spec_from_file_location
        # gives no loader at all for a .txt file).
        loader = importlib.machinery.SourceFileLoader(module_name, str(path))
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name, loader))
        loader.exec_module(module)
    except SyntaxError as error:
        what = "is not a Python file" if path.suffix != ".py" else "has a syntax error"
        raise ScenarioError(f"{path}: {what} (line {error.lineno}: {error.msg})") from None
    except BaseException as error:  # noqa: BLE001 - sys.exit() or Ctrl-C in a learner's script must not take the lab down
        raise ScenarioError(f"{path}: failed to import: {_describe(error)}") from None
    scenario = getattr(module, "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"{path}: defines no SCENARIO = Scenario(...)")
    return Scenario(**{**scenario.__dict__, "path": str(path)})


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"it calls sys.exit({error.code!r}) when imported (guard training with if __name__ == '__main__':)"
    if isinstance(error, KeyboardInterrupt):
        return "KeyboardInterrupt raised while importing"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def load_file(path: Path) -> LoadResult:
    """A scenario file, a plain script (script=True), or the reason it is neither."""
    try:
        return LoadResult(path, scenario=load_scenario_file(path))
    except NotAScenario:
        return LoadResult(path, script=True)
    except ScenarioError as error:
        return LoadResult(path, error=str(error))


def discover(folder: str | Path = BUILTIN_DIR) -> list[LoadResult]:
    """Load every *.py scenario in a folder (sorted by name); broken ones carry their error,
    plain training scripts are marked as such."""
    return [load_file(path) for path in sorted(Path(folder).glob("*.py")) if not path.name.startswith("_")]


def find_scenario(name_or_path: str, folders: list[Path] | None = None) -> Scenario:
    """A scenario by file path, or by name among the built-in and given folders."""
    if name_or_path.endswith(".py") or Path(name_or_path).is_file():
        return load_scenario_file(name_or_path)
    for folder in [BUILTIN_DIR, *(folders or [])]:
        candidate = Path(folder) / f"{name_or_path}.py"
        if candidate.is_file():
            return load_scenario_file(candidate)
    known = [r.path.stem for r in discover(BUILTIN_DIR)]
    raise ScenarioError(f"no scenario named {name_or_path!r}; known: {', '.join(known)}")
