"""The PNG plots of bench.py: per key type, cost per unit against N; and
the ratios against the baseline at the largest size, with the targets.

matplotlib is optional: without it write_plots prints a one-line note and
writes nothing (the table and the JSON have every number).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

# Contenders without a colour here (bplustree3 at other capacities, its
# SortedDict) get matplotlib's next one.
COLORS = {"bplustree3": "tab:blue", "SortedDict": "tab:orange", "OOBTree": "tab:green",
          "dict": "tab:gray"}


def short_number(x: float, _pos=None) -> str:
    """Tick labels: 1K, 10M, 250, 0.5."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:g}{suffix}"
    return f"{x:g}"


def log_axis(axis, ticks: Sequence[float] | None = None) -> None:
    """A log axis with few, plainly labelled major ticks and no minor ones
    (matplotlib's default minor log ticks are slow and clutter small plots)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(FixedLocator(ticks) if ticks else
                           LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=5))
    axis.set_major_formatter(FuncFormatter(short_number))
    axis.set_minor_locator(NullLocator())


def save_figure(fig, path: Path) -> Path:
    fig.savefig(path, dpi=80, pil_kwargs={"optimize": True})
    return path


PLOT_STYLE = {"text.antialiased": False}  # crisp small text, PNGs a third smaller


def write_plots(outdir: Path, summary: dict, cfg, targets: Mapping[str, Mapping[str, float]],
                reference: str, baseline: str) -> None:
    """bench_<key type>.png per key type and bench_summary.png in outdir.
    cfg: bench.py's Config (sizes, key_types, ops, contenders); targets:
    the reference's, {key type: {operation: ratio against the baseline}}."""
    try:
        import matplotlib
    except ImportError:
        print("plots: none written (matplotlib is not installed)")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(PLOT_STYLE):
        written = [write_key_type_plot(plt, outdir, summary, cfg, kt) for kt in cfg.key_types]
        written.append(write_summary_plot(plt, outdir, summary, cfg, targets, reference,
                                          baseline))
    print("plots: " + ", ".join(str(p) for p in written if p))


def write_key_type_plot(plt, outdir: Path, summary: dict, cfg, kt: str) -> Path | None:
    """One small log-log panel per operation: cost per unit against N."""
    ops = [op for op in cfg.ops if any(k == kt and o == op.name for k, _, o, _ in summary)]
    if not ops:
        return None
    cols = min(5, len(ops))
    rows = math.ceil(len(ops) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols, 2.1 * rows + 0.5), squeeze=False)
    for ax, op in zip(axes.flat, ops):
        for c in cfg.contenders:
            points = [(n, summary[(kt, n, op.name, c.name)]["median"]) for n in cfg.sizes
                      if (kt, n, op.name, c.name) in summary]
            if points:
                ax.plot(*zip(*points), marker="o", ms=3, lw=1.2, color=COLORS.get(c.name),
                        label=c.name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(min(cfg.sizes) / 1.6, max(cfg.sizes) * 1.6)
        log_axis(ax.xaxis, cfg.sizes)
        log_axis(ax.yaxis)
        ax.set_title(f"{op.name} ({op.label.replace('us', 'µs')})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(ops):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle(f"{kt} keys: cost per unit against N (log-log; lower is better)",
                 x=0.01, y=0.995, ha="left", va="top", fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.05, top=1 - 0.55 / fig.get_figheight(),
                        wspace=0.32, hspace=0.42)
    path = save_figure(fig, outdir / f"bench_{kt}.png")
    plt.close(fig)
    return path


def write_summary_plot(plt, outdir: Path, summary: dict, cfg,
                       targets: Mapping[str, Mapping[str, float]], reference: str,
                       baseline: str) -> Path | None:
    """Ratios against the baseline at the largest size, int and str keys,
    with the reference's targets."""
    panels = [kt for kt in ("int", "str") if any(k == kt for k, *_ in summary)]
    if not panels:
        return None
    others = [c for c in cfg.contenders if c.name != baseline]
    width = 0.8 / max(1, len(others))
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.4 * len(panels)), squeeze=False)
    for ax, kt in zip(axes[:, 0], panels):
        n = max(size for k, size, *_ in summary if k == kt)
        ops = [op.name for op in cfg.ops if (kt, n, op.name, reference) in summary]
        for j, c in enumerate(others):
            bars = [(i + (j - (len(others) - 1) / 2) * width, summary[(kt, n, op, c.name)])
                    for i, op in enumerate(ops) if (kt, n, op, c.name) in summary]
            bars = [(x, cell["ratio"]) for x, cell in bars if cell["ratio"] is not None]
            if bars:
                ax.bar([x for x, _ in bars], [ratio for _, ratio in bars], width,
                       color=COLORS.get(c.name), label=c.name)
        goals = [(i, targets[kt][op]) for i, op in enumerate(ops) if op in targets.get(kt, {})]
        if goals:
            ax.scatter(*zip(*goals), marker="_", s=300, color="black", zorder=3,
                       label=f"{reference} target")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        log_axis(ax.yaxis)
        ax.set_xticks(range(len(ops)))
        ax.set_xticklabels(ops, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel(f"{baseline} / contender", fontsize=9)
        ax.set_title(f"{kt} keys, N = {n:,}: ratio against {baseline} (> 1 is better)",
                     fontsize=10, loc="left")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=4, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  frameon=False, borderaxespad=0.1)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.07, right=0.99, bottom=1.0 / height, top=1 - 0.3 / height,
                        hspace=1.25 / 2.1)
    path = save_figure(fig, outdir / "bench_summary.png")
    plt.close(fig)
    return path
