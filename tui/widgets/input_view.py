"""InputView: the input batch the model actually receives, drawn with half-block characters.

Each cell shows two pixels (the upper as the foreground of '▀', the lower as the
background). Grey levels span the batch's own min..max, so static from input
noise or a 0..255 range is visible as such, and the caption gives the numbers.
"""

from __future__ import annotations

import time

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget

from tui.run_trace import RunTrace

LEVELS = 32  # grey levels; few enough to cache one Style per (upper, lower) pair
GAP = 1  # columns between two digits
# A new batch arrives with every snapshot (every 50 steps: up to ~20 a second); a rebuild and
# repaint costs ~5 ms of the UI thread, which training shares, so new images wait this long.
NEW_IMAGES_SECONDS = 0.5


def grey_levels(images: np.ndarray) -> np.ndarray:
    """Map a batch to integer grey levels 0..LEVELS-1 over its own finite range (NaN shows black)."""
    finite = images[np.isfinite(images)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(images, nan=low, posinf=high, neginf=low) - low) / max(high - low, 1e-12)
    return np.clip(np.rint(scaled * (LEVELS - 1)), 0, LEVELS - 1).astype(np.int32)


def shrink(images: np.ndarray, factor: int) -> np.ndarray:
    """Average factor x factor pixel blocks: 28x28 becomes 14x14 for small terminals."""
    k, h, w = images.shape
    return images[:, : h // factor * factor, : w // factor * factor].reshape(
        k, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def image_caption(images: np.ndarray, step: int) -> Content:
    """The batch's step, range and spread; a batch with no finite pixel says NaN, highlighted."""
    finite = images[np.isfinite(images)]
    if not finite.size:
        return Content.from_markup("step $step · [b $text-error]every pixel NaN/Inf[/]", step=step)
    return Content(f"step {step} · {finite.min():.3g}..{finite.max():.3g} · σ {finite.std():.3g}")


def _grey(level: int) -> Color:
    value = round(level * 255 / (LEVELS - 1))
    return Color.from_rgb(value, value, value)


class InputView(Widget):
    DEFAULT_CSS = """
    InputView { border: round $panel; border-title-color: $text; border-subtitle-color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: RunTrace | None = None
        self._shown: tuple | None = None
        self._strips: list[Strip] = []
        self._styles: dict[tuple[int, int], Style] = {}
        self._built_at = -float("inf")
        self._pending = None  # the timer that shows images held back by NEW_IMAGES_SECONDS

    def on_mount(self) -> None:
        self.border_title = "input batch"

    def show(self, trace: RunTrace | None) -> None:
        self.trace = trace
        self._rebuild_if_stale()

    def on_resize(self) -> None:
        self._rebuild_if_stale()

    def _rebuild_if_stale(self) -> None:
        images = self.trace.images if self.trace is not None else None
        key = (id(images), self.size, id(self.trace))
        if key == self._shown:
            return
        wait = self._built_at + NEW_IMAGES_SECONDS - time.monotonic()
        same_run = self._shown is not None and self._shown[1:] == (self.size, id(self.trace)) and images is not None
        if same_run and wait > 0:  # newer images of the run already shown, same size: later, in one go
            if self._pending is None:
                self._pending = self.set_timer(wait, self._show_pending)
            return
        self._shown, self._built_at = key, time.monotonic()
        self._strips = self._layout(images) if images is not None and self.size.area else []
        self.border_subtitle = image_caption(images, self.trace.image_step) if images is not None else ""
        self.refresh()

    def _show_pending(self) -> None:
        self._pending = None
        self._rebuild_if_stale()

    def _layout(self, images: np.ndarray) -> list[Strip]:
        width, height = self.size.width, self.size.height
        factor = 1 if height >= images.shape[1] // 2 and width >= images.shape[2] else 2
        pixels = grey_levels(shrink(images, factor) if factor > 1 else images)
        k, rows, cols = pixels.shape
        shown = max(1, min(k, (width + GAP) // (cols + GAP)))
        if rows % 2:
            pixels = np.concatenate([pixels, np.zeros((k, 1, cols), dtype=pixels.dtype)], axis=1)
        strips = []
        for y in range(0, pixels.shape[1], 2):
            segments = []
            for index in range(shown):
                if index:
                    segments.append(Segment(" " * GAP))
                upper, lower = pixels[index, y], pixels[index, y + 1]
                segments.extend(Segment("▀", self._style(int(u), int(b))) for u, b in zip(upper, lower))
            strips.append(Strip(Segment.simplify(segments)))
        return strips

    def _style(self, upper: int, lower: int) -> Style:
        style = self._styles.get((upper, lower))
        if style is None:
            style = self._styles[(upper, lower)] = Style(color=_grey(upper), bgcolor=_grey(lower))
        return style

    def render_line(self, y: int) -> Strip:
        if not self._strips:
            return Strip.blank(self.size.width, self.rich_style) if y else Strip([Segment(" no images yet", Style(dim=True))])
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width, self.rich_style)
