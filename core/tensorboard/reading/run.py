"""Read a run folder, or every run under a root, into History: find the files, decode them,
keep the latest of restarted runs, assemble the History. Damaged files give warnings, never a
crash, and a run that cannot be read costs that run, never the folder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from core.schema.history import History
from core.tensorboard.reading import discover, restarts
from core.tensorboard.reading.assemble import build_history
from core.tensorboard.reading.decode import read_files
from core.tensorboard.reading.discover import LogError
from core.tensorboard.reading.names import first_line, printable


def read_all(root: str | Path, *, max_histograms_per_tag: int | None = None,
             overrides: Mapping[str, str] | None = None) -> list[History]:
    """Every run under root, each named by its path relative to root."""
    return [history for _, history in iter_runs(root, max_histograms_per_tag=max_histograms_per_tag,
                                                overrides=overrides)]


def iter_runs(root: str | Path, *, max_histograms_per_tag: int | None = None,
              overrides: Mapping[str, str] | None = None) -> Iterator[tuple[int, History]]:
    """(number of runs, History) for each run under root in turn, so a caller can show progress.
    LogError (before the first run) when root holds no event files at all."""
    root = Path(root)
    runs = discover.find_runs(root)
    if not runs:
        raise LogError(f"no TensorBoard event files under {printable(str(root))}")
    for run in runs:
        yield len(runs), read_or_warn(run, discover.run_name(run, root), max_histograms_per_tag, overrides)


def read_or_warn(run: Path, name: str, max_histograms_per_tag: int | None = None,
                 overrides: Mapping[str, str] | None = None) -> History:
    """One run of a root; a run that cannot be read is an empty History with the reason,
    so one broken folder never hides the healthy runs beside it."""
    name = printable(name, limit=len(name))
    try:
        return read_run(run, name=name, max_histograms_per_tag=max_histograms_per_tag, overrides=overrides)
    except LogError as error:
        return History(run=name, warnings=[str(error)])
    except Exception as error:  # noqa: BLE001 - an unforeseen damage in one run must not cost the others
        shown = printable(str(run))
        return History(run=name, warnings=[f"{shown}: cannot be read ({type(error).__name__}: {first_line(error)})"])


def read_run(run_dir: str | Path, *, max_histograms_per_tag: int | None = None, name: str | None = None,
             overrides: Mapping[str, str] | None = None) -> History:
    """One run: its train half (train/ or the folder itself) and val half (val/ or validation/).

    max_histograms_per_tag keeps that many snapshots per histogram tag, evenly
    spaced, always including the last (None keeps all). overrides {role: raw tag} say which
    tag fills a role, where the reading by meaning would choose another (`--tag ROLE=TAG`).
    """
    if max_histograms_per_tag is not None and max_histograms_per_tag < 1:
        raise ValueError(f"max_histograms_per_tag must be >= 1 or None, not {max_histograms_per_tag}")
    run_dir = Path(run_dir)
    discover.require_folder(run_dir)
    shown = printable(str(run_dir))
    try:
        halves = discover.half_files(run_dir)
        empty = not any(run_dir.iterdir())
    except OSError as error:
        raise LogError(f"cannot list log folder {shown}: {error.strerror or error}") from None
    if empty:
        raise LogError(f"empty log folder: {shown}")
    if not any(halves.values()):
        raise LogError(f"no TensorBoard event files in {shown}")
    raw = {}
    for half, files in halves.items():
        raw[half] = read_files(files, run_dir)
        restarts.keep_latest_runs(half, raw[half])
    restarts.drop_earlier_runs(raw)
    history = build_history(name or printable(run_dir.resolve().name), raw, max_histograms_per_tag, overrides)
    if not (history.train or history.val or history.histograms):
        history.warnings.append(_why_no_values(shown, any(half.graph for half in raw.values())))
    return history


def _why_no_values(shown: str, graph: bool) -> str:
    if graph:
        return (f"the event files of {shown} hold the model's graph but no values: the program stopped before "
                "its first summary (a TF1 script stops there when a histogram summary meets NaN or Inf: "
                "'Nan in summary histogram')")
    return f"no values in the event files of {shown} (empty, or only a file header)"
