"""The report's plots, drawn with matplotlib's object API (no pyplot state: safe in any process), returned as
SVG text for the HTML report or PNG bytes for the Markdown one."""

from __future__ import annotations

import io

import numpy as np

from savkit.errors import SavkitError

WIDTH, HEIGHT = 6.4, 3.2


def _figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SavkitError(
            "plots need matplotlib: pip install 'savkit[report]' (or pip install matplotlib)"
        ) from None
    figure = Figure(figsize=(WIDTH, HEIGHT))
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.17, top=0.9)  # fixed margins: a layout engine costs
    return figure, figure.add_subplot()


def svg(figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML prologue, no metadata that names a URL)."""
    buffer = io.StringIO()
    figure.savefig(
        buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
    )
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def histogram(scores: list[float], label: str, title: str):
    figure, axes = _figure()
    axes.hist(scores, bins=np.linspace(0, 100, 21), color="#4c72b0", edgecolor="white")
    axes.set(xlabel=f"{label} per object (%)", ylabel="objects", title=title, xlim=(0, 100))
    return figure


def bucket_bars(groups: dict[str, list[float]], label: str, title: str, xlabel: str):
    """Mean score per bucket, with the object count above each bar."""
    figure, axes = _figure()
    names = list(groups)
    means = [float(np.mean(groups[n])) if groups[n] else 0.0 for n in names]
    bars = axes.bar(names, means, color="#55a868")
    for bar, name in zip(bars, names, strict=True):
        axes.annotate(
            f"n={len(groups[name])}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set(xlabel=xlabel, ylabel=f"mean {label} (%)", title=title, ylim=(0, 105))
    return figure


def frame_curves(frames: list[str], j: list[float], f: list[float] | None, title: str):
    figure, axes = _figure()
    x = np.arange(len(frames))
    axes.plot(x, np.asarray(j) * 100, label="J", color="#4c72b0")
    if f:
        axes.plot(x, np.asarray(f) * 100, label="F", color="#dd8452")
    ticks = x[:: max(1, len(x) // 8)]
    axes.set_xticks(ticks, [frames[i] for i in ticks], fontsize=7)
    axes.set(xlabel="frame", ylabel="%", ylim=(-2, 102), title=title)
    axes.legend(loc="lower left", fontsize=8)
    return figure


def delta_histogram(deltas: list[float], title: str):
    figure, axes = _figure()
    limit = max(1.0, float(np.max(np.abs(deltas))) if deltas else 1.0)
    axes.hist(deltas, bins=np.linspace(-limit, limit, 31), color="#8172b3", edgecolor="white")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set(xlabel="B - A, J&F per object (points)", ylabel="objects", title=title)
    return figure


def paired_scatter(a: list[float], b: list[float], title: str):
    figure, axes = _figure()
    axes.scatter(a, b, s=10, alpha=0.6, color="#4c72b0")
    axes.plot([0, 100], [0, 100], color="black", linewidth=0.8)
    axes.set(xlabel="A: J&F (%)", ylabel="B: J&F (%)", xlim=(0, 100), ylim=(0, 100), title=title)
    axes.set_aspect("equal")
    return figure
