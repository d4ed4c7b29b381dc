"""Experiments side by side: two machines, two Ray versions, and the original study.

    python -m parallel_tune.compare EXPERIMENT_A EXPERIMENT_B [...] [--out DIR] [--threshold 0.05]
    python -m parallel_tune.compare EXPERIMENT --reference original

Configs are matched by their grid values. For each: env steps/s with its
interval in every experiment, the ratio to the first experiment with its own
bootstrap interval (over both sides' measured iterations), and a mark where
the difference is significant (the interval excludes 1) and larger than
``--threshold``; speedup and both efficiencies side by side. What differs
between the runs (versions, CPU, cores, cluster, GPUs, algorithm settings) comes
first; different algorithm settings make the first line say the speeds are not
comparable. Exit status 1 when any matched config is significantly slower
than in the first experiment by more than the threshold (a regression check
for a Ray upgrade), 0 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.analysis import findings, metrics
from parallel_tune.analysis.load import load
from parallel_tune.core import spaces
from parallel_tune.core.errors import UsageError
from parallel_tune.core.record import SCHEMA_VERSION
from parallel_tune.core.stats import measured as measured_iterations
from parallel_tune.core.stats import ratio_of_medians
from parallel_tune.core.tables import write_table

KEYS = [spaces.RUNNERS, spaces.ENVS_PER_RUNNER]

#: The original study (2025-11-04) as it published itself: speedups and efficiency per env, no times.
ORIGINAL = {
    "name": "original study",
    "machine": {
        "cpu_model": "Intel Core i7-12700 (8 P + 4 E cores)",
        "logical_cores": 16,
        "physical_cores": 12,
        "memory_gb": 32,
        "gpu_models": ["NVIDIA GeForce RTX 3070 8 GB"],
        "versions": {},
    },
    "space": {
        "env": "HalfCheetah-v5",
        "ppo": {"lambda": 0.95, "lr": 0.0003, "num_epochs": 3, "train_batch_size": 16384, "minibatch_size": 4096},
    },
    # (runners, envs per runner): (speedup, efficiency per env %)
    "table": {
        (1, 1): (1.0, 100.0),
        (1, 2): (1.568, 78.4),
        (2, 1): (1.72, 86.2),
        (4, 1): (2.68, 67.0),
        (8, 1): (4.12, 51.5),
        (8, 2): (5.76, 36.0),
    },
}


class CompareError(UsageError):
    """Experiments that cannot be compared."""


@dataclass
class Side:
    """One experiment as the comparison sees it: its per-config table and its measured iterations."""

    name: str
    metadata: dict[str, Any]
    scaled: pd.DataFrame
    measured: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)  # learning curves by env steps (a learning check)

    @property
    def reference(self) -> bool:
        return self.measured.empty


def original() -> Side:
    """The original study's published table, with its provenance as published."""
    rows = [
        {
            spaces.RUNNERS: r,
            spaces.ENVS_PER_RUNNER: e,
            "label": f"{r}r x {e}e",
            "speedup": s,
            "efficiency_per_env_pct": eff,
            "efficiency_per_cpu_pct": 100 * s / r,
            "env_steps_per_s": np.nan,
        }
        for (r, e), (s, eff) in ORIGINAL["table"].items()
    ]
    meta = {"space": ORIGINAL["space"], "machine": ORIGINAL["machine"], "source": "published table (i7-12700)"}
    return Side(ORIGINAL["name"], meta, pd.DataFrame(rows))


def load_side(path: Path) -> Side:
    """An experiment directory (or one with ``analysis/`` only), through the package's loader."""
    experiment = load(path)
    found = findings.of(experiment)
    if found.scaled.empty:
        raise CompareError(f"{path} has no measured config to compare")
    record = experiment.record
    warmup = record.space.warmup_iterations if record.space else 1
    measured = measured_iterations(experiment.iterations, warmup).copy()
    measured["env_steps_per_s"] = measured["env_steps_sampled"] / measured["time_this_iter_s"]
    meta = {
        "space": record.space.to_record() if record.space else {},
        "algorithm": record.algorithm,
        "machine": record.machine,
        "versions": record.versions,
        "cluster": record.cluster,
    }
    return Side(Path(path).name, meta, found.scaled, measured, found.curves.get("env_steps", pd.DataFrame()))


def match(sides: list[Side], *, threshold: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """One row per (config, experiment), for configs every experiment measured.

    Each side's ``scaled`` needs <match keys>, label, env_steps_per_s (and its
    _ci_low/_ci_high), speedup, efficiency_per_env_pct,
    efficiency_per_cpu_pct; a measured side's ``measured`` holds per-iteration
    env_steps_per_s by config. Configs are matched on the config columns all
    sides share. Returns experiment, <keys>, label, those columns, and against
    the first experiment: ratio (env steps/s, median over median) with
    ratio_ci_low/high (bootstrap over both sides' iterations), significant
    (interval excludes 1 and |ratio - 1| above ``threshold``), slower
    (significant and below 1), and speedup_ratio (for a reference without
    times, the only comparison possible).
    """
    keys = _shared_keys(sides)
    first = sides[0]
    common = first.scaled[keys].drop_duplicates()
    for side in sides[1:]:
        common = common.merge(side.scaled[keys].drop_duplicates(), on=keys)
    if common.empty:
        raise CompareError("the experiments have no config in common (matched on " + ", ".join(keys) + ")")
    rows = []
    for _, config in common.iterrows():
        base = _row(first, config, keys)
        for side in sides:
            r = _row(side, config, keys)
            label = base.get("label") if isinstance(base.get("label"), str) else ""
            out = {
                "experiment": side.name,
                **{k: config[k] for k in keys},
                "label": label or spaces.label(config, keys),
            }
            for col in _COLUMNS:
                out[col] = r.get(col, np.nan)
            out["speedup_ratio"] = r.get("speedup", np.nan) / base.get("speedup", np.nan)
            if side.reference or first.reference:
                ratio = {"ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan}
            else:
                ratio = ratio_of_medians(_steps(first, config, keys), _steps(side, config, keys), seed=seed)
            significant = bool((ratio["ci_high"] < 1 or ratio["ci_low"] > 1) and abs(ratio["ratio"] - 1) > threshold)
            out.update(
                ratio=ratio["ratio"],
                ratio_ci_low=ratio["ci_low"],
                ratio_ci_high=ratio["ci_high"],
                significant=significant,
                slower=significant and ratio["ratio"] < 1,
            )
            rows.append(out)
    return pd.DataFrame(rows)


_COLUMNS = (
    "env_steps_per_s",
    "env_steps_per_s_ci_low",
    "env_steps_per_s_ci_high",
    "speedup",
    "efficiency_per_env_pct",
    "efficiency_per_cpu_pct",
    "time_per_iter_s",
)


def _shared_keys(sides: list[Side]) -> list[str]:
    keys = [k for k in sides[0].scaled.columns if k in KEYS or k in sides[0].metadata.get("space", {}).get("grid", {})]
    return [k for k in keys if all(k in s.scaled for s in sides)] or KEYS


def _row(side: Side, config: pd.Series, keys: list[str]) -> dict[str, Any]:
    hit = side.scaled[metrics.same_config(side.scaled, config, keys)]
    return hit.iloc[0].to_dict() if len(hit) else {}


def _steps(side: Side, config: pd.Series, keys: list[str]) -> np.ndarray:
    m = side.measured
    return m[metrics.same_config(m, config, keys)]["env_steps_per_s"].to_numpy(float)


def provenance_diff(sides: list[Side]) -> tuple[list[str], list[str]]:
    """(algorithm settings that differ, everything else that differs): 'train_batch_size: 16384 / 4096'.

    The original study's side names no algorithm: it ran PPO."""
    from parallel_tune.run.trial import rllib_defaults

    def ppo(side: Side) -> dict[str, Any]:
        """What the side's trials shared: the algorithm's defaults, the space's settings and a --config file's."""
        space, algorithm = side.metadata.get("space", {}), side.metadata.get("algorithm") or {}
        name = algorithm.get("name", space.get("algorithm", "PPO"))
        grid = set(space.get("grid", {}))
        chosen = {**space.get("ppo", {}), **((algorithm.get("config_file") or {}).get("settings") or {})}
        return {
            "algorithm": name,
            "env": space.get("env"),
            **{k: v for k, v in {**rllib_defaults(name), **chosen}.items() if k not in grid and k not in KEYS},
        }

    def facts(side: Side) -> dict[str, Any]:
        m, versions = side.metadata.get("machine", {}), side.metadata.get("versions", {})
        return {
            "CPU": m.get("cpu_model"),
            "logical cores": m.get("logical_cores"),
            "physical cores": m.get("physical_cores"),
            "nodes": len(side.metadata.get("cluster", {}).get("nodes") or []) or 1,
            "GPUs": ", ".join(m.get("gpu_models") or []) or "none",
            **{k: versions.get(k) for k in ("ray", "torch", "gymnasium", "mujoco", "python")},
        }

    return _differing([ppo(s) for s in sides], sides), _differing([facts(s) for s in sides], sides)


def _differing(records: list[dict[str, Any]], sides: list[Side]) -> list[str]:
    out = []
    for key in sorted({k for r in records for k in r}, key=str):
        values = [r.get(key) for r in records]
        known = [v for v, s in zip(values, sides, strict=True) if not (s.reference and v is None)]
        if len({repr(v) for v in known}) > 1:
            out.append(f"{key}: " + " / ".join("–" if v is None else str(v) for v in values))
    return out


def render(table: pd.DataFrame, sides: list[Side], *, threshold: float) -> str:
    """The comparison as Markdown: what differs first, then one row per config."""
    ppo_diff, other_diff = provenance_diff(sides)
    names = [s.name for s in sides]
    if ppo_diff:
        head = (
            f"⚠ **Different PPO settings** ({'; '.join(ppo_diff)}): the experiments did different work per iteration, "
            "so their speeds are not comparable; speedups and efficiencies still are, each against its own baseline."
        )
    else:
        head = "Same PPO settings and environment in every experiment."
    letters = [chr(ord("A") + i) for i in range(len(sides))]
    out = [f"# Comparison: {' vs '.join(names)}", "", head, ""]
    out += ["Experiments: " + "; ".join(f"**{x}** = {n}" for x, n in zip(letters, names, strict=True)) + ".", ""]
    if other_diff:
        out += ["What differs between them:", "", *(f"- {d}" for d in other_diff), ""]
    header = ["config", *(f"{x} steps/s [95 % CI]" for x in letters), *(f"{x} / A" for x in letters[1:])]
    header += (
        [f"speedup {x}" for x in letters] + [f"eff./env {x}" for x in letters] + [f"eff./CPU {x}" for x in letters]
    )
    rows = []
    for _, group in table.groupby(KEYS, sort=True):
        by = group.set_index("experiment")
        row = [str(by.iloc[0]["label"])]
        for s in sides:
            r = by.loc[s.name]
            low, high = r["env_steps_per_s_ci_low"], r["env_steps_per_s_ci_high"]
            row.append("–" if s.reference else f"{r['env_steps_per_s']:,.0f} [{low:,.0f}, {high:,.0f}]")
        for s in sides[1:]:
            r = by.loc[s.name]
            if pd.isna(r["ratio"]):  # a reference without times: its speedup against A's
                row.append(f"speedup {r['speedup_ratio']:.2f}x")
            else:
                mark = (" ▼ slower" if r["slower"] else " ▲ faster") if r["significant"] else ""
                row.append(f"{r['ratio']:.3f} [{r['ratio_ci_low']:.3f}, {r['ratio_ci_high']:.3f}]{mark}")
        row += [f"{by.loc[n, 'speedup']:.2f}x" for n in names]
        row += [f"{by.loc[n, 'efficiency_per_env_pct']:.1f} %" for n in names]
        row += [f"{by.loc[n, 'efficiency_per_cpu_pct']:.1f} %" for n in names]
        rows.append(row)
    sep = ["---"] + ["---:"] * (len(header) - 1)
    out += [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(sep) + " |",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    slower = table[table["slower"]]
    out += [
        "",
        f"X / A: env steps/s against {names[0]} (median over median, bootstrap 95 % interval over both sides' "
        f"measured iterations); ▼/▲ marks a difference whose interval excludes 1 and that exceeds "
        f"±{100 * threshold:g} %.",
    ]
    if len(slower):
        out.append(
            f"**Regression:** {len(slower)} config(s) significantly slower than in {names[0]}: "
            + ", ".join(f"{r['label']} in {r['experiment']} ({r['ratio']:.3f}x)" for _, r in slower.iterrows())
            + "."
        )
    return "\n".join(out) + "\n"


def figure(table: pd.DataFrame, sides: list[Side], path: Path) -> Path:
    """Speedup and efficiency per env of every experiment on the same axes, with the ideal line; and where any
    experiment ran a learning check, their learning curves overlaid (return vs env steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    learned = [s for s in sides if not s.curves.empty]
    fig, axes = plt.subplots(1, 3 if learned else 2, figsize=(22 if learned else 15, 6))
    left, right = axes[0], axes[1]
    for s, colour in zip(sides, sns.color_palette("deep", len(sides)), strict=False):
        d = table[table["experiment"] == s.name].copy()
        d["envs"] = spaces.total_envs(d[KEYS[0]].astype(int), d[KEYS[1]].astype(int))
        d = d.sort_values("envs")
        low = d["speedup"] * d["env_steps_per_s_ci_low"] / d["env_steps_per_s"]
        high = d["speedup"] * d["env_steps_per_s_ci_high"] / d["env_steps_per_s"]
        err = np.abs(np.nan_to_num([d["speedup"] - low, high - d["speedup"]]))
        style = "s--" if s.reference else "o-"
        left.errorbar(d["envs"], d["speedup"], yerr=err, fmt=style, color=colour, capsize=3, label=s.name)
        right.plot(d["envs"], d["efficiency_per_env_pct"], style, color=colour, label=s.name)
        for _, r in d.iterrows():
            left.annotate(
                r["label"], (r["envs"], r["speedup"]), fontsize=7, alpha=0.6, xytext=(3, 3), textcoords="offset points"
            )
    top = float(
        table.assign(envs=spaces.total_envs(table[KEYS[0]].astype(int), table[KEYS[1]].astype(int)))["envs"].max()
    )
    left.plot([1, top], [1, top], ":", color="grey", label="ideal (linear)")
    right.axhline(100, ls=":", color="grey", label="ideal")
    left.set(xlabel="total envs", ylabel="speedup vs each experiment's baseline", title="Speedup")
    right.set(xlabel="total envs", ylabel="efficiency per env %", title="Efficiency per env (the original study's)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    if learned:
        styles = ["-", "--", ":", "-."]
        for s, colour in zip(sides, sns.color_palette("deep", len(sides)), strict=False):
            if s.curves.empty:
                continue
            for i, (label, g) in enumerate(s.curves.groupby("label", sort=False)):
                axes[2].plot(g["env_steps"], g["return_mean"], styles[i % 4], color=colour, label=f"{s.name}: {label}")
                axes[2].fill_between(g["env_steps"], g["return_low"], g["return_high"], color=colour, alpha=0.08)
        axes[2].set(xlabel="env steps sampled", ylabel="episode return (mean of runs)", title="Learning curves")
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compare(
    paths: list[Path], *, reference: str | None = None, threshold: float = 0.05
) -> tuple[pd.DataFrame, str, list[Side]]:
    """Load, match and render; the library call behind the CLI."""
    sides = [load_side(Path(p)) for p in paths]
    if reference == "original":
        sides.append(original())
    if len(sides) < 2:
        raise CompareError("give two experiments, or one and --reference original")
    table = match(sides, threshold=threshold)
    return table, render(table, sides, threshold=threshold), sides


def write(table: pd.DataFrame, text: str, sides: list[Side], out: Path) -> list[Path]:
    """``comparison.md``, ``.parquet`` (provenance of every side in its metadata) and ``.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "kind": "comparison",
        "experiments": [
            {"name": s.name, **{k: s.metadata.get(k) for k in ("space", "machine", "versions")}} for s in sides
        ],
    }
    written = [write_table(table, out / "comparison.parquet", meta), figure(table, sides, out / "comparison.png")]
    (out / "comparison.md").write_text(text + "\n![comparison](comparison.png)\n")
    return [out / "comparison.md", *written]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m parallel_tune.compare", description=__doc__.splitlines()[0])
    p.add_argument("experiments", nargs="+", help="experiment directories (or ones with analysis/ only)")
    p.add_argument("--out", help="write comparison.md, comparison.parquet and comparison.png here")
    p.add_argument("--threshold", type=float, default=0.05, help="smallest difference that counts (default 0.05)")
    p.add_argument("--reference", choices=["original"], help="add the original study's published table")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if not 0 <= args.threshold < 1:
            raise CompareError(f"--threshold must be in [0, 1), got {args.threshold:g}")
        table, text, sides = compare(
            [Path(e) for e in args.experiments], reference=args.reference, threshold=args.threshold
        )
        print(text)
        if args.out:
            for path in write(table, text, sides, Path(args.out)):
                print(f"written: {path}")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if table["slower"].any() else 0


if __name__ == "__main__":
    sys.exit(main())
