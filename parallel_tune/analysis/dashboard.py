"""The dashboard: the report at a glance, one function per panel, from the findings only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from parallel_tune.analysis.diagnosis import LOSS_PARTS, PART_LABELS
from parallel_tune.analysis.findings import Findings
from parallel_tune.analysis.metrics import RATING_BANDS
from parallel_tune.analysis.report import ORDER, config_label, plural

_BAND_COLOURS = {"Excellent": "#2e7d32", "Good": "#9ccc65", "Acceptable": "#ffca28", "Poor": "#ef5350"}


def dashboard(found: Findings, *, path: Path, title: str = "") -> Path:
    """Six panels (speedup, efficiency with bands, throughput vs ceiling, time split, CPU use, GPU use or the
    per-step costs) and, under them, the loss budget of every config: the report at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    # When only envs per runner vary, every config has the same CPUs: plot against envs instead.
    x, x_label = ("sampling_cpus", "sampling CPUs (env runners)")
    if found.scaled["sampling_cpus"].nunique() == 1:
        x, x_label = ("total_envs", "total envs (same sampling CPUs)")
    df = _plot_frame(found.scaled, x, found.algorithm)
    configs = found.configs
    sampled = configs["samples"] > 0 if "samples" in configs else pd.Series(False, index=configs.index)
    merged = configs[sampled].copy()
    if not merged.empty:
        merged["config"] = merged.apply(config_label, axis=1)
        # The same config order as every other panel; configs without a measured iteration last.
        order = {c: i for i, c in enumerate(df["config"])}
        merged = merged.sort_values("config", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    learned = any(not c.empty for c in found.curves.values())
    fig = plt.figure(figsize=(18, 21 if learned else 15.5))
    grid = fig.add_gridspec(4 if learned else 3, 3, height_ratios=[1, 1, 0.9, 1][: 4 if learned else 3])
    axes = np.array([[fig.add_subplot(grid[i, j]) for j in range(3)] for i in range(2)])
    speedup_panel(axes[0, 0], df, found.fit, x, x_label)
    efficiency_panel(axes[0, 1], df)
    throughput_panel(axes[0, 2], df, found.ceiling, x, x_label, found.algorithm)
    if found.asynchronous:  # sampling and learning overlap: no split of the iteration, which side waits instead
        learner_panel(axes[1, 0], df)
    else:
        time_split_panel(axes[1, 0], df)
    cpu_panel(axes[1, 1], merged)
    if not merged.empty and merged["gpu_util_pct_mean"].notna().any():
        gpu_panel(axes[1, 2], merged)
    else:
        per_step_panel(axes[1, 2], df)
    if "limited_by" in df:
        (asynchronous_budget_panel if found.asynchronous else budget_panel)(fig.add_subplot(grid[2, :]), df)
    if learned:  # a learning check: how each config's return grew, by env steps and by wall-clock
        row = grid[3, :].subgridspec(1, 2)
        learning_panel(fig.add_subplot(row[0, 0]), found.curves["env_steps"], "env_steps", "env steps sampled")
        learning_panel(fig.add_subplot(row[0, 1]), found.curves["train_s"], "train_s", "seconds of training")
    if title:
        fig.suptitle(title, fontsize=15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_frame(scaled: pd.DataFrame, x: str, algorithm: str = "PPO") -> pd.DataFrame:
    """The configs with a ``config`` label and a ``series``: what one line of the speedup and throughput panels
    joins. Against sampling CPUs, a line per envs per runner (and other axes); against envs, a line per other axis
    (``sync``/``async``, learners...), or one line."""
    df = scaled.sort_values(ORDER).copy()
    df["config"] = df.apply(config_label, axis=1)
    df["envs per runner"] = df.get("num_envs_per_env_runner", pd.Series(1, index=df.index)).astype(int)
    # What the label adds after "Rr x Ee" (a raced-out config's "†" marks its point, not a line of its own).
    other = df["config"].str.removesuffix(" †").str.split(" ", n=3).str[3].fillna("")
    if x == "total_envs":
        df["series"] = other.where(other != "", algorithm)
    else:
        df["series"] = df["envs per runner"].astype(str) + " env(s)/runner" + other.map(lambda o: f", {o}" if o else "")
    return df


def learning_panel(ax, curves: pd.DataFrame, x: str, x_label: str) -> None:
    """Episode return against ``x``: the mean of each config's runs, the band from their lowest to highest."""
    for label, g in curves.groupby("label", sort=False):
        line = ax.plot(g[x], g["return_mean"], label=f"{label} ({int(g['runs'].iloc[0])} runs)")[0]
        ax.fill_between(g[x], g["return_low"], g["return_high"], color=line.get_color(), alpha=0.15)
    ax.set(xlabel=x_label, ylabel="episode return (mean of runs)", title=f"Learning: return vs {x_label}")
    ax.legend(fontsize=8)


def speedup_panel(ax, df: pd.DataFrame, fit: dict, x: str, x_label: str) -> None:
    top = max(float(df[x].max()), 1.0)
    base_cpus = float(df.loc[df["speedup"].sub(1).abs().idxmin(), x]) if len(df) else 1.0
    xs = np.linspace(base_cpus, top, 100)
    ax.plot(xs, xs / base_cpus, "--", color="grey", label="ideal (linear)")
    if "serial_fraction" in fit and np.isfinite(fit["serial_fraction"]):
        s = fit["serial_fraction"]
        p = xs / base_cpus
        ax.plot(xs, 1 / (s + (1 - s) / p), ":", color="black", label=f"Amdahl fit, serial {100 * s:.1f} %")
    for key, g in df.groupby("series", sort=False):
        err = [g["speedup"] - _speed(g, "low"), _speed(g, "high") - g["speedup"]]
        ax.errorbar(g[x], g["speedup"], yerr=np.abs(err), marker="o", capsize=3, label=key)
    ax.set(xlabel=x_label, ylabel="speedup vs baseline", title="Speedup")
    ax.legend(fontsize=8)


def efficiency_panel(ax, df: pd.DataFrame) -> None:
    import seaborn as sns

    long = df.melt(
        id_vars=["config"],
        value_vars=["efficiency_per_env_pct", "efficiency_per_cpu_pct"],
        var_name="per",
        value_name="efficiency %",
    )
    long["per"] = long["per"].map({"efficiency_per_env_pct": "per env", "efficiency_per_cpu_pct": "per CPU"})
    ymax = max(110.0, float(long["efficiency %"].max()) * 1.1)
    upper = ymax
    for name, floor in RATING_BANDS:
        ax.axhspan(floor, upper, color=_BAND_COLOURS[name], alpha=0.12, lw=0)
        ax.text(len(df) - 0.5, (floor + min(upper, ymax)) / 2, name, ha="right", va="center", fontsize=8, alpha=0.7)
        upper = floor
    sns.barplot(data=long, x="config", y="efficiency %", hue="per", ax=ax)
    ax.set(ylim=(0, ymax), xlabel="", title="Parallel efficiency (rating bands: original study)")
    ax.tick_params(axis="x", rotation=45)


def throughput_panel(
    ax, df: pd.DataFrame, ceiling: pd.DataFrame | None, x: str, x_label: str, algorithm: str = "PPO"
) -> None:
    for key, g in df.groupby("series", sort=False):
        yerr = [g["env_steps_per_s"] - g["env_steps_per_s_ci_low"], g["env_steps_per_s_ci_high"] - g["env_steps_per_s"]]
        ax.errorbar(
            g[x],
            g["env_steps_per_s"],
            yerr=np.abs(np.nan_to_num(yerr)),
            marker="o",
            capsize=3,
            label=key if key.startswith(algorithm) else f"{algorithm}, {key}",
        )
    if ceiling is not None and not ceiling.empty:
        if x == "total_envs":  # every config samples with the same processes: the ceiling is one level
            width = int(df["sampling_processes"].iloc[0]) if "sampling_processes" in df else 1
            level = ceiling.loc[ceiling["processes"] == width, "env_steps_per_s"]
            if len(level):
                ax.axhline(level.median(), ls="--", color="black", label=f"raw env ceiling, {plural(width, 'process')}")
        else:
            ax.plot(ceiling["processes"], ceiling["env_steps_per_s"], "s--", color="black", label="raw env ceiling")
        ax.set_yscale("log")
    ax.set(xlabel=x_label, ylabel="env steps / s", title="Throughput")
    ax.legend(fontsize=8)


def time_split_panel(ax, df: pd.DataFrame) -> None:
    import seaborn as sns

    parts = ["sampling_s", "learner_update_s", "weight_sync_s", "other_s"]
    bottom = np.zeros(len(df))
    for col, colour in zip(parts, sns.color_palette("deep", 4), strict=False):
        vals = df[col].fillna(0).to_numpy()
        ax.bar(df["config"], vals, bottom=bottom, label=col.removesuffix("_s").replace("_", " "), color=colour)
        bottom += vals
    ax.set_ylim(0, 1.05 * bottom.max() if bottom.max() > 0 else 1)  # the tallest stack stays whole
    ax.set(ylabel="seconds per iteration (median)", title="Where an iteration's time goes")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8)


def cpu_panel(ax, merged: pd.DataFrame) -> None:
    """``merged``: the per-config rows with hardware samples, with a ``config`` label."""
    if not merged.empty:
        ax.bar(merged["config"], merged["busy_cores_mean"], color="#5c6bc0", label="busy cores (mean)")
        ax.scatter(
            merged["config"], merged["cpus_reserved"], color="black", marker="_", s=400, label="CPUs reserved", zorder=3
        )
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no telemetry", ha="center", va="center", transform=ax.transAxes)
    ax.set(ylabel="cores", title="CPU use vs reservation")
    ax.tick_params(axis="x", rotation=45)


def gpu_panel(ax, merged: pd.DataFrame) -> None:
    ax.bar(merged["config"], merged["gpu_util_pct_mean"], color="#26a69a")
    ax.set(ylabel="GPU utilisation % (mean)", ylim=(0, 100), title="GPU use")
    ax.tick_params(axis="x", rotation=45)


def per_step_panel(ax, df: pd.DataFrame) -> None:
    import seaborn as sns

    per_step = df[["config", "env_step_per_step_ms", "inference_per_step_ms"]].copy()
    per_step["connectors_per_step_ms"] = df["env_to_module_per_step_ms"] + df["module_to_env_per_step_ms"]
    per_step = per_step.melt(id_vars="config", var_name="part", value_name="ms per runner step")
    per_step["part"] = per_step["part"].str.replace("_per_step_ms", "").str.replace("_", " ")
    sns.barplot(data=per_step, x="config", y="ms per runner step", hue="part", ax=ax)
    ax.set(xlabel="", title="Inside an env runner, per step of all its envs")
    ax.tick_params(axis="x", rotation=45)


def budget_panel(ax, df: pd.DataFrame) -> None:
    """The loss budget as stacked bars: losses above zero, gains below, the net as a marker."""
    import seaborn as sns

    colours = dict(zip(LOSS_PARTS, sns.color_palette("tab10", len(LOSS_PARTS)), strict=False))
    up, down = np.zeros(len(df)), np.zeros(len(df))
    for part, col in LOSS_PARTS.items():
        vals = df[col].fillna(0).to_numpy()
        pos, neg = np.clip(vals, 0, None), np.clip(vals, None, 0)
        ax.bar(df["config"], pos, bottom=up, color=colours[part], label=PART_LABELS[part])
        ax.bar(df["config"], neg, bottom=down, color=colours[part])
        up, down = up + pos, down + neg
    ax.scatter(df["config"], df["lost_time_s"], color="black", marker="D", zorder=3, label="net: measured - ideal")
    ax.axhline(0, color="black", lw=0.8)
    span = max(up.max() - down.min(), 1e-3)
    ax.set_ylim(down.min() - 0.05 * span, up.max() + 0.15 * span)
    for i, (_, r) in enumerate(df.iterrows()):
        ax.annotate(
            _verdict_label(r), (i, max(up[i], 0)), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=8
        )
    ax.set(
        ylabel="seconds per iteration vs ideal",
        title="Where the lost speedup went (above 0: lost, below: gained; label: what limits the config)",
    )
    ax.legend(fontsize=8, ncol=4)


def _verdict_label(r: pd.Series) -> str:
    """'learner', or 'mixed: env step / learner' under a config's bars."""
    if r["limited_by"] != "mixed":
        return str(r["limited_by"])
    return "mixed: " + " / ".join(PART_LABELS.get(p, p) for p in str(r["contenders"]).split(", "))


def _speed(g: pd.DataFrame, side: str) -> pd.Series:
    """Speedup at its interval's edges (``metrics.scaling``'s, over both configs' iterations)."""
    return g[f"speedup_ci_{side}"].fillna(g["speedup"]) if f"speedup_ci_{side}" in g else g["speedup"]


def learner_panel(ax, df: pd.DataFrame) -> None:
    """An asynchronous algorithm's learner: how much of its time it updates rather than waits for samples."""
    busy = df["learner_busy_pct"] if "learner_busy_pct" in df else pd.Series(np.nan, index=df.index)
    err = [busy - df.get("learner_busy_pct_ci_low", busy), df.get("learner_busy_pct_ci_high", busy) - busy]
    ax.bar(df["config"], busy.fillna(0), yerr=np.abs(np.nan_to_num(err)), color="#8d6e63", capsize=3)
    ax.axhline(80, ls="--", color="black", lw=0.8, label="samples queue for the learner above")
    ax.set(ylim=(0, 105), ylabel="learner busy % (median)", title="Learner: updating, not waiting for samples")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8)


def asynchronous_budget_panel(ax, df: pd.DataFrame) -> None:
    """The whole loss per 1,000 env steps (an asynchronous iteration does not split), with each verdict."""
    lost = df["lost_time_per_kstep_s"].fillna(0).to_numpy()
    ax.bar(df["config"], lost, color=np.where(lost > 0, "#ef5350", "#66bb6a"))
    ax.axhline(0, color="black", lw=0.8)
    for i, (_, r) in enumerate(df.iterrows()):
        ax.annotate(_verdict_label(r), (i, max(lost[i], 0)), xytext=(0, 4), textcoords="offset points", ha="center")
    ax.set(
        ylabel="seconds per 1,000 env steps vs ideal",
        title="What each config lost against its ideal (sampling and learning overlap: not split into parts)",
    )
