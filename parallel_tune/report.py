"""Markdown report and seaborn dashboard, from the metric tables only.

``render_markdown`` joins one function per section, ``dashboard`` one
function per panel; each takes ``metrics.Findings`` (and the trials table or
the experiment's recorded metadata where it needs them) and nothing else.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.diagnosis import LIMITS, LOSS_PARTS, processes_text
from parallel_tune.files import DASHBOARD
from parallel_tune.metrics import RATING_BANDS, SKIPPED, UNFINISHED, Findings

_BAND_COLOURS = {"Excellent": "#2e7d32", "Good": "#9ccc65", "Acceptable": "#ffca28", "Poor": "#ef5350"}
_ORDER = ["sampling_cpus", "total_envs"]


def _num(v: Any, fmt: str = ".2f") -> str:
    try:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return format(v, fmt)
    except (TypeError, ValueError):
        return str(v)


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _with_ci(row: pd.Series, col: str) -> str:
    return f"{_num(row[col])} [{_num(row[col + '_ci_low'])}, {_num(row[col + '_ci_high'])}]"


def _plural(n: Any, noun: str) -> str:
    """'1 process', '4 processes', '2 sampling CPUs'."""
    if n is None or pd.isna(n):
        return f"n/a {noun}"
    suffix = "" if float(n) == 1 else ("es" if noun.endswith("s") else "s")
    return f"{float(n):g} {noun}{suffix}"


def config_label(row: pd.Series) -> str:
    """``4r x 2e``: the original study's shorthand, then any other grid axis (``spaces.label``)."""
    if isinstance(row.get("label"), str) and row.get("label"):
        return row["label"]
    r = row.get("num_env_runners", "?")
    e = row.get("num_envs_per_env_runner", 1)
    return f"{int(r)}r x {int(e)}e" if not pd.isna(r) else str(row.get("trial_name"))


def rating_legend() -> str:
    """'Excellent > 70 %, Good 60-70 %, Acceptable 50-60 %, Poor < 50 %', from ``RATING_BANDS``."""
    (top, top_edge), *rest = RATING_BANDS
    parts, upper = [f"{top} > {top_edge:g} %"], top_edge
    for name, edge in rest[:-1]:
        parts.append(f"{name} {edge:g}-{upper:g} %")
        upper = edge
    return ", ".join([*parts, f"{rest[-1][0]} < {upper:g} %"])


def render_markdown(
    found: Findings,
    trials: pd.DataFrame,
    metadata: dict[str, Any],
    problems: list[str],
    *,
    dashboard_name: str = DASHBOARD,
) -> str:
    """The whole report: one section function after another."""
    space = metadata.get("space", {})
    sections = [
        header_section(metadata, dashboard_name),
        results_section(found, int(space.get("warmup_iterations", 1))),
        drift_section(found),
        recommendation_section(found),
        budget_section(found),
        learner_device_section(found, trials),
        why_section(found),
        ceiling_section(found),
        measurement_section(found, trials, space),
        placement_section(trials),
        hardware_section(found, trials, telemetry_interval_s(metadata)),
        misconfiguration_section(found),
        failed_section(trials, metadata.get("experiment_dir")),
        problems_section(problems),
    ]
    return "\n".join(line for section in sections for line in section)


def header_section(metadata: dict[str, Any], dashboard_name: str) -> list[str]:
    """What was run where, with which versions: scaling numbers compare only under the same ones."""
    space = metadata.get("space", {})
    machine = metadata.get("machine", {})
    versions = machine.get("versions", {})
    ppo = space.get("ppo", {})
    gpus = ", ".join(machine.get("gpu_models") or []) or "none"
    nodes = machine.get("nodes") or []
    where = (
        f"Driver machine: {machine.get('cpu_model', '?')}, {machine.get('logical_cores', '?')} logical / "
        f"{machine.get('physical_cores', '?')} physical cores, GPUs: {gpus}. "
    )
    if len(nodes) > 1:
        each = "; ".join(
            f"{str(n.get('node_id', '?'))[:6]} ({n.get('node_ip', '?')}): {n.get('cpu_model', '?')}, "
            f"{n.get('logical_cores', '?')} cores, {n.get('resources', {}).get('CPU', 0):g} Ray CPUs, "
            f"{n.get('gpu_count', 0)} GPU(s)"
            for n in nodes
        )
        where += f"Ray cluster of {len(nodes)} nodes: {each}. "
    else:
        where = where.replace("Driver machine", "Machine")
    return [
        f"# Scaling report: {space.get('name', '?')}",
        "",
        f"{space.get('env', '?')}, PPO train_batch_size {ppo.get('train_batch_size', '?')}, "
        f"{space.get('iterations', '?')} iterations per config ({space.get('warmup_iterations', '?')} warm-up, "
        f"excluded). {where}"
        + ", ".join(f"{k} {versions.get(k, '?')}" for k in ("ray", "torch", "gymnasium", "mujoco"))
        + f"; run {machine.get('date_utc', '?')}.",
        "",
        f"![dashboard]({dashboard_name})",
        "",
    ]


def results_section(found: Findings, warmup_iterations: int) -> list[str]:
    """The table the original study published, with intervals and both efficiency denominators."""
    scaled = found.scaled
    if scaled.empty:
        return []
    rows = []
    for _, r in scaled.sort_values(_ORDER).iterrows():
        flag = " ⚠ wide CI" if r["unreliable"] else ""
        rows.append(
            [
                config_label(r),
                str(int(r["total_envs"])),
                _num(r["sampling_cpus"], "g"),
                _with_ci(r, "time_per_iter_s"),
                _num(r["env_steps_per_s"], ",.0f"),
                _num(r["speedup"]) + "x",
                _num(r["efficiency_per_env_pct"], ".1f") + " %",
                _num(r["efficiency_per_cpu_pct"], ".1f") + " %",
                r["rating"] + flag,
            ]
        )
    header = ["config", "envs", "sampling CPUs", "s/iter [95 % CI]", "env steps/s", "speedup", "eff./env"]
    out = ["## Results", "", _table([*header, "eff./CPU", "rating"], rows, "lrrrrrrrl")]
    out += [
        "",
        f"Speedup is relative to {scaled['baseline_name'].iloc[0]}. Efficiency per env = speedup / (envs / baseline "
        "envs), the original study's definition; per CPU = speedup / (sampling CPUs / baseline's), since extra envs "
        f"per runner add no cores. Ratings (per env, the original study's bands): {rating_legend()}.",
        "",
    ]
    for _, r in found.restarts.iterrows():
        out.append(
            f"- {r['trial_name']} continued from its checkpoint after iteration "
            f"{int(r['restored_after_iteration'])} (a resumed sweep); its first {warmup_iterations} iteration(s) "
            "after the restore paid actor start-up again and are excluded like warm-up."
        )
    if len(found.restarts):
        out.append("")
    return out


def drift_section(found: Findings) -> list[str]:
    """Did the machine's speed move during the sweep? Every speedup divides by the baseline's time."""
    d = found.drift
    if not d or pd.isna(d.get("ratio")):
        return []
    threshold = found.precision or 0.05
    label = f", {d['label']}," if d.get("label") else ","
    who = f"The baseline{label}" if d.get("is_baseline", True) else f"A config other than the baseline{label}"
    text = (
        f"{who} re-measured at the end of the sweep ({d['n_again']} iterations), took "
        f"{d['ratio']:.3f}x its first time per iteration [95 % CI {d['ci_low']:.3f}, {d['ci_high']:.3f}]"
    )
    if abs(d["ratio"] - 1) > threshold:
        text = (
            f"⚠ **The machine drifted.** {text}: more than ±{100 * threshold:g} %. Every speedup and efficiency "
            "above divides by the baseline's time, so they carry that uncertainty; re-run on a quieter machine."
        )
    else:
        text += f": within ±{100 * threshold:g} %, no drift beyond the precision asked."
    return [text, ""]


def measurement_section(found: Findings, trials: pd.DataFrame, space: dict[str, Any]) -> list[str]:
    """How much each config was measured, whether the precision asked was reached, and what the harness cost."""
    scaled = found.scaled
    if scaled.empty:
        return []
    cap, warmup = space.get("iterations", "?"), space.get("warmup_iterations", "?")
    if found.precision:
        intro = (
            f"Precision asked: ±{100 * found.precision:g} % (the 95 % interval of the median time per iteration), "
            f"after at least {space.get('min_measured_iterations', 3)} measured iterations; {cap} iterations at most "
            f"({warmup} warm-up)."
        )
    else:
        intro = f"No precision target: every config ran its {cap} iterations ({warmup} warm-up)."
    # diagnosis.diagnose gave every config its trial_name
    merged = scaled.merge(trials[["trial_name", "iterations_completed"]], on="trial_name", how="left")
    startup = found.harness.get("trials", pd.DataFrame(columns=["trial_name", "startup_s"]))
    merged = merged.merge(startup, on="trial_name", how="left")
    rows = []
    for _, r in merged.sort_values(_ORDER).iterrows():
        reached = r.get("precision_reached")
        verdict = "–" if reached is None or pd.isna(reached) else ("yes" if reached else "⚠ no: hit the cap")
        rows.append(
            [
                config_label(r),
                _num(r["iterations_completed"], ".0f"),
                str(int(r["n_measured"])),
                "±" + _num(100 * r["rel_half_width"], ".1f") + " %",
                verdict,
                _num(r.get("startup_s"), ".1f"),
            ]
        )
    header = ["config", "iterations run", "measured", "95 % CI half-width", "precision reached", "start-up s"]
    out = ["## How long each config was measured", "", intro, "", _table(header, rows, "lrrrlr"), ""]
    h = found.harness
    if h and not pd.isna(h.get("wall_s")):
        share = 100 * h["in_iterations_s"] / h["wall_s"] if h["wall_s"] else float("nan")
        out += [
            f"The sweep took {h['wall_s']:.0f} s from its start to its last result, {h['in_iterations_s']:.0f} s of "
            f"it inside measured and warm-up iterations ({share:.0f} %); the other {h['outside_iterations_s']:.0f} s "
            "is the harness: trial start-up (actors, environments; the column above), checkpoints, Tune's "
            "bookkeeping and the ceiling run if any.",
            "",
        ]
    return out


def recommendation_section(found: Findings) -> list[str]:
    """The answer first: the fastest config, what limits it, the widest one that still scales well."""
    if not found.recommendation:
        return []
    fastest = found.recommendation["fastest"]
    line = (
        f"- **Fastest:** {config_label(pd.Series(fastest))} ({_plural(fastest['sampling_cpus'], 'sampling CPU')}), "
        f"{_num(fastest['time_per_iter_s'])} s/iter, "
        f"{_num(fastest['env_steps_per_s'], ',.0f')} env steps/s, "
        f"efficiency {_num(fastest['efficiency_per_cpu_pct'], '.0f')} % per CPU"
    )
    if found.ceiling is not None and "ceiling_fraction_pct" in fastest:
        line += (
            f", {_num(fastest.get('ceiling_fraction_pct'), '.1f')} % of the raw environment ceiling at "
            f"{_plural(fastest.get('sampling_processes'), 'process')}"
        )
    else:
        line += " (no ceiling measured: sweep with `--ceiling` to see how far this is from the bare environment)"
    out = ["## Recommendation", "", line + "."]
    if fastest.get("limited_by") not in (None, "baseline"):
        out.append(
            f"- **What limits it:** {LIMITS[fastest['limited_by']]} (`{fastest['limited_by']}`). {fastest['advice']}"
        )
    good = found.recommendation.get("largest_good")
    if good:
        out.append(
            f"- **Widest config still rated Good or better:** {config_label(pd.Series(good))} "
            f"({_num(good['efficiency_per_env_pct'], '.1f')} % per env, {_num(good['speedup'])}x)."
        )
    else:
        out.append("- No config above the baseline is rated Good or better.")
    return [*out, ""]


_PART_LABELS = {
    "sampling:env_step": "env step",
    "sampling:inference": "inference",
    "sampling:connectors": "connectors",
    "sampling:wait": "sampling wait",
    "learner": "learner",
    "weight_sync": "weight sync",
    "other": "other",
}


def budget_section(found: Findings) -> list[str]:
    """Where the lost speedup went: the loss budget, the verdict and the advice of every config."""
    scaled = found.scaled
    if scaled.empty or "limited_by" not in scaled:
        return []
    ordered = scaled.sort_values(_ORDER)
    rows = [
        [
            config_label(r),
            _num(r["time_per_iter_s"]),
            _num(r["ideal_time_per_iter_s"]),
            _num(r["lost_time_s"], "+.2f"),
            *(_num(r[col], "+.2f") for col in LOSS_PARTS.values()),
            f"`{r['limited_by']}`",
        ]
        for _, r in ordered.iterrows()
    ]
    header = ["config", "s/iter", "ideal s", "lost s", *(_PART_LABELS[p] for p in LOSS_PARTS), "limited by"]
    out = ["## Where the lost speedup went", "", _table(header, rows, "l" + "r" * (len(header) - 2) + "l"), ""]
    out += [f"- {explain(r, found.cores)}" for _, r in ordered.iterrows()]
    out += [
        "",
        "The ideal time of a config is the baseline's scaled by sampling CPUs (twice the CPUs, half the time; more "
        "envs on the same runners, the same time). Each column is that part's seconds per iteration minus the "
        "baseline's, scaled the same way; they add up to the lost seconds, and a negative part is a gain. "
        "Sampling is split by RLlib's per-step timers (env step, inference, connectors) and what they leave "
        "(sampling wait: the slowest runner, episode collection). Verdicts: "
        + "; ".join(f"`{k}` {v}" for k, v in LIMITS.items())
        + ".",
        "",
    ]
    return out


def explain(r: pd.Series, cores: float) -> str:
    """One plain sentence with the figures: what a config lost, to what, and what to try."""
    label, verdict = config_label(r), r["limited_by"]
    head = f"{label}: {r['time_per_iter_s']:.2f} s per iteration"
    if verdict == "baseline":
        return f"{head}, the baseline. {r['advice']}"
    head += f" against {r['ideal_time_per_iter_s']:.2f} s ideal"
    lost = r["lost_time_s"]
    net = f"{lost:.2f} s lost" if lost > 0 else f"{-lost:.2f} s faster than ideal"
    if verdict == "cpu_cores":
        lost_sampling = sum(r[LOSS_PARTS[p]] for p in LOSS_PARTS if p.startswith("sampling:"))
        busy = "" if pd.isna(r.get("busy_cores_mean")) else f", {r['busy_cores_mean']:.1f} of {cores:g} cores busy"
        share = f"of the {net}, {lost_sampling:.2f} s is sampling" if lost > 0 else f"{net}, yet sampling is"
        return (
            f"{head}; {share} slowed down by {processes_text(r)} on {cores:g} cores (an env step cost "
            f"{r['step_cost_ratio']:.1f}x the baseline's{busy}): limited by the CPU cores. {r['advice']}"
        )
    if lost > 0 and r[LOSS_PARTS[verdict]] > 0:
        part = r[LOSS_PARTS[verdict]]
        share = f"of the {net}, {part:.2f} s" if part <= lost else f"{part:.2f} s ({net} net, other parts gained)"
        return f"{head}; {share} is {LIMITS[verdict]}: limited by `{verdict}`. {r['advice']}"
    gains = {p: r[LOSS_PARTS[p]] for p in LOSS_PARTS}
    best = min(gains, key=gains.get)
    return (
        f"{head}: {abs(r['lost_time_s']):.2f} s {'faster than' if r['lost_time_s'] < 0 else 'over, near the'} ideal "
        f"(the largest gain: {_PART_LABELS[best]}, {gains[best]:+.2f} s). Its largest remaining cost is "
        f"{LIMITS[verdict]}: limited by `{verdict}`. {r['advice']}"
    )


def learner_device_section(found: Findings, trials: pd.DataFrame) -> list[str]:
    """Did the GPU shorten the learner update? Configs equal but for ``num_gpus_per_learner``, side by side."""
    scaled, key = found.scaled, "num_gpus_per_learner"
    if scaled.empty or key not in scaled or scaled[key].nunique() < 2:
        return []
    usage = found.usage.set_index("trial_name") if not found.usage.empty else pd.DataFrame()
    others = [k for k in ("num_env_runners", "num_envs_per_env_runner") if k in scaled]
    out = ["## CPU learner or GPU learner", ""]
    for _, group in scaled.groupby(others):
        cpu, gpu = group[group[key] == 0], group[group[key] > 0]
        if cpu.empty or gpu.empty:
            continue
        c, g = cpu.iloc[0], gpu.iloc[0]
        busy = usage["gpu_util_pct_mean"].get(g["trial_name"], np.nan) if "gpu_util_pct_mean" in usage else np.nan
        gpu_use = "no GPU was visible to measure" if pd.isna(busy) else f"the GPU was {busy:.0f} % busy on average"
        ratio = c["learner_update_s"] / g["learner_update_s"] if g["learner_update_s"] else np.nan
        verdict = "shortened" if ratio > 1.05 else ("lengthened" if ratio < 0.95 else "did not change")
        where = config_label(g).replace(" GPU learner", "")
        out.append(
            f"- {where}: learner update {c['learner_update_s']:.2f} s on the CPU, "
            f"{g['learner_update_s']:.2f} s on the GPU ({ratio:.2f}x): the GPU {verdict} the update; "
            f"{g['time_per_iter_s']:.2f} s against {c['time_per_iter_s']:.2f} s per iteration; {gpu_use}."
        )
    return [*out, ""] if len(out) > 2 else []


def why_section(found: Findings) -> list[str]:
    """The raw parts of an iteration and the scaling fits, for a reader who wants to check the verdicts."""
    scaled, fit = found.scaled, found.fit
    if scaled.empty:
        return []
    rows = [
        [
            config_label(r),
            _num(r["time_per_iter_s"]),
            f"{_num(r['sampling_s'])} ({_num(r['sampling_share_pct'], '.0f')} %)",
            f"{_num(r['learner_update_s'])} ({_num(r['learner_update_share_pct'], '.0f')} %)",
            f"{_num(r['weight_sync_s'], '.3f')} ({_num(r['weight_sync_share_pct'], '.0f')} %)",
            f"{_num(r['other_s'])} ({_num(r['other_share_pct'], '.0f')} %)",
            _num(r["env_step_per_step_ms"], ".3f"),
            _num(r["inference_per_step_ms"], ".3f"),
            _num(r["env_to_module_per_step_ms"] + r["module_to_env_per_step_ms"], ".3f"),
        ]
        for _, r in scaled.sort_values(_ORDER).iterrows()
    ]
    header = ["config", "s/iter", "sampling s", "learner s", "weight sync s", "other s", "env step ms"]
    out = ["## Why scaling stops", "", "Where each iteration's time goes (medians over measured iterations):", ""]
    out += [_table([*header, "inference ms", "connectors ms"], rows)]
    out += [
        "",
        "Iteration timers are recovered from RLlib's `timers/*`, which are EMAs with coefficient 0.01 "
        "(their raw value after 10 iterations is still ~90 % the warm-up iteration's). Per-step columns "
        "are per step of one env runner over all its envs (`env_step_timer`, `rlmodule_inference_timer`, and the "
        "env-to-module + module-to-env connector pipelines).",
        "",
    ]
    core_bound = scaled[scaled["limited_by"] == "cpu_cores"] if "limited_by" in scaled else scaled.iloc[0:0]
    left_out = ""
    if len(core_bound):
        left_out = (
            f" Left out of the fit: {', '.join(core_bound.apply(config_label, axis=1))}, limited by the CPU cores "
            "(their speedup says how many processes shared a core, not how RLlib scales)."
        )
    if fit.get("points", 0):
        out.append(
            f"**Amdahl's law** over the runner-only configs not limited by the cores ({fit['points']} widths > 1): "
            "serial fraction "
            f"{_num(100 * fit['serial_fraction'], '.1f')} %, so speedup cannot exceed "
            f"{_num(fit['max_speedup'], '.1f')}x however many runners (fit RMSE {_num(fit['rmse'], '.2f')}x)."
        )
        kf = found.runner_slice.dropna(subset=["karp_flatt_serial_fraction"])
        if len(kf):
            out.append(
                "Karp-Flatt serial fraction by width: "
                + ", ".join(
                    f"{int(r['num_env_runners'])} runners {100 * r['karp_flatt_serial_fraction']:.1f} %"
                    for _, r in kf.iterrows()
                )
                + ". A fraction that grows with width means the overhead grows with the number of runners "
                "(synchronisation, collection), not a fixed serial part."
            )
        out += [left_out.strip(), ""] if left_out else [""]
    elif left_out:
        out += [f"No Amdahl fit: too few runner counts are left.{left_out}", ""]
    return out


def ceiling_section(found: Findings) -> list[str]:
    """How far each config is from the bare environment at the same width: what RLlib costs per step."""
    scaled, ceiling = found.scaled, found.ceiling
    if ceiling is None or ceiling.empty or "ceiling_fraction_pct" not in scaled:
        return []
    rows = [
        [
            config_label(r),
            _num(r["sampling_processes"], "g"),
            _num(r["env_steps_per_s"], ",.0f"),
            _num(r["ceiling_env_steps_per_s"], ",.0f"),
            _num(r["ceiling_fraction_pct"], ".1f") + " %",
        ]
        for _, r in scaled.sort_values(_ORDER).iterrows()
    ]
    raw = ", ".join(
        f"{int(r.processes)}: {r.env_steps_per_s:,.0f}" for r in ceiling.sort_values("processes").itertuples()
    )
    return [
        "## Against the raw environment ceiling",
        "",
        _table(["config", "sampling processes", "PPO env steps/s", "raw env steps/s", "fraction"], rows),
        "",
        "The raw ceiling is the same environment stepped with random actions by as many processes at once, no "
        f"RLlib (`parallel_tune.ceiling`; steps/s by processes: {raw}). The gap is what RLlib adds per step "
        "(policy inference, connectors, episode collection), not physics. Widths are matched exactly; a config "
        "whose width was not measured shows n/a.",
        "",
    ]


def placement_section(trials: pd.DataFrame) -> list[str]:
    """Where each trial's bundles ran, when the sweep used more than one node."""
    if "bundle_nodes" not in trials or trials["nodes_used"].max() < 1:
        return []
    import json

    nodes = {e["node_id"] for b in trials["bundle_nodes"] if b for e in json.loads(b)}
    if len(nodes) < 2:
        return []
    ran = trials[trials["placement"].astype(bool)]
    lines = [f"- {config_label(r)}: {r['placement']}" for _, r in ran.iterrows()]
    return ["## Where each trial ran", "", *lines, "", "Nodes by the first 6 characters of their Ray node id.", ""]


def telemetry_interval_s(metadata: dict[str, Any]) -> float | None:
    """The sampling period the sweep used: recorded in its options, or (older sweeps) in its command line."""
    recorded = metadata.get("options", {}).get("telemetry_interval_s")
    if recorded:
        return float(recorded)
    command = metadata.get("command") or []
    if "--telemetry-interval" in command[:-1]:
        return float(command[command.index("--telemetry-interval") + 1])
    return 1.0 if command else None  # the flag's default


def hardware_section(found: Findings, trials: pd.DataFrame, interval_s: float | None) -> list[str]:
    """What the trials reserved against what they used, per node on a cluster: the evidence for cpu_cores."""
    usage = found.usage
    if usage.empty:
        return []
    merged = trials.merge(usage, on="trial_name", how="inner")
    rows = [
        [
            config_label(r),
            _num(r["cpus_reserved"], "g"),
            _num(r["cpu_util_pct_mean"], ".0f") + " %",
            _num(r["cpu_util_pct_peak"], ".0f") + " %",
            _num(r["busy_cores_mean"], ".1f"),
            _num(r["gpu_util_pct_mean"], ".0f"),
            _num(r["gpu_mem_used_mb_peak"], ",.0f"),
        ]
        for _, r in merged.iterrows()
    ]
    header = ["config", "CPUs reserved", "CPU mean", "CPU peak", "busy cores", "GPU % mean", "GPU MB peak"]
    every = f"every {interval_s:g} s" if interval_s else "at the sweep's --telemetry-interval"
    out = ["## Hardware use", "", _table(header, rows), ""]
    by_node = found.by_node
    if not by_node.empty and by_node["node_id"].astype(bool).any() and by_node["node_id"].nunique() > 1:
        labels = trials.set_index("trial_name")
        node_rows = [
            [
                config_label(labels.loc[r["trial_name"]]),
                str(r["node_id"])[:6],
                str(r["node_ip"]),
                _num(r["node_cores"], "g"),
                _num(r["busy_cores_mean"], ".1f"),
                _num(r["load_avg_1m_peak"], ".1f"),
                _num(r["cpu_util_pct_mean"], ".0f") + " %",
            ]
            for _, r in by_node.iterrows()
            if r["trial_name"] in labels.index
        ]
        header = ["config", "node", "IP", "node cores", "busy cores", "load peak", "CPU mean"]
        out += ["Per node (busy cores against that node's cores):", "", _table(header, node_rows), ""]
    out.append(
        f"Sampled {every} on every node a trial's bundles used: the driver's node from the trial's start, the others "
        "from its first result (the warm-up iteration)."
    )
    if not usage["gpu_util_pct_mean"].notna().any():
        out.append("No GPU was visible to NVML on this machine: GPU columns are empty, not zero.")
    return [*out, ""]


def misconfiguration_section(found: Findings) -> list[str]:
    if not found.warnings:
        return []
    return ["### Misconfigurations", "", *(f"- {w}" for w in found.warnings), ""]


def failed_section(trials: pd.DataFrame, experiment_dir: str | None = None) -> list[str]:
    """Every config without a finished measurement, and how a stopped sweep goes on."""
    failed = trials[trials["status"].isin(["ERROR", SKIPPED, *UNFINISHED])]
    if failed.empty:
        return []
    rows = [
        [
            r["trial_name"],
            r["status"],
            str(int(r["iterations_completed"])),
            str(r["error"] or ("stopped with the sweep" if r["status"] in UNFINISHED else ""))[:160],
        ]
        for _, r in failed.iterrows()
    ]
    lines = [
        "## Failed, skipped or unfinished configs",
        "",
        _table(["config", "status", "iterations", "why"], rows, "llrl"),
        "",
    ]
    unfinished = failed["status"].isin(UNFINISHED).sum()
    if unfinished:
        resume = f"python -m parallel_tune.sweep --resume {experiment_dir or 'EXPERIMENT_DIR'}"
        lines += [
            f"The sweep stopped before {unfinished} of {len(trials[trials['status'] != SKIPPED])} configs finished: "
            f"this report covers what was measured. `{resume}` measures the rest.",
            "",
        ]
    return lines


def problems_section(problems: list[str]) -> list[str]:
    if not problems:
        return []
    return ["## Problems reading the experiment", "", *(f"- {p}" for p in problems), ""]


def dashboard(found: Findings, trials: pd.DataFrame, *, path: Path, title: str = "") -> Path:
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
    df = _plot_frame(found.scaled, x)
    merged = trials.merge(found.usage, on="trial_name", how="inner") if not found.usage.empty else pd.DataFrame()
    if not merged.empty:
        merged["config"] = merged.apply(config_label, axis=1)
        # The same config order as every other panel; configs without a measured iteration last.
        order = {c: i for i, c in enumerate(df["config"])}
        merged = merged.sort_values("config", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    fig = plt.figure(figsize=(18, 15.5))
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.9])
    axes = np.array([[fig.add_subplot(grid[i, j]) for j in range(3)] for i in range(2)])
    speedup_panel(axes[0, 0], df, found.fit, x, x_label)
    efficiency_panel(axes[0, 1], df)
    throughput_panel(axes[0, 2], df, found.ceiling, x, x_label)
    time_split_panel(axes[1, 0], df)
    cpu_panel(axes[1, 1], merged)
    if not merged.empty and merged["gpu_util_pct_mean"].notna().any():
        gpu_panel(axes[1, 2], merged)
    else:
        per_step_panel(axes[1, 2], df)
    if "limited_by" in df:
        budget_panel(fig.add_subplot(grid[2, :]), df)
    if title:
        fig.suptitle(title, fontsize=15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_frame(scaled: pd.DataFrame, x: str) -> pd.DataFrame:
    """The configs with a ``config`` label and a ``series``: what one line of the speedup and throughput panels
    joins. Against sampling CPUs, a line per envs per runner (and other axes); against envs, a line per other axis
    (``sync``/``async``, learners...), or one line."""
    df = scaled.sort_values(_ORDER).copy()
    df["config"] = df.apply(config_label, axis=1)
    df["envs per runner"] = df.get("num_envs_per_env_runner", pd.Series(1, index=df.index)).astype(int)
    other = df["config"].str.split(" ", n=3).str[3].fillna("")  # what the label adds after "Rr x Ee"
    if x == "total_envs":
        df["series"] = other.where(other != "", "PPO")
    else:
        df["series"] = df["envs per runner"].astype(str) + " env(s)/runner" + other.map(lambda o: f", {o}" if o else "")
    return df


def speedup_panel(ax, df: pd.DataFrame, fit: dict, x: str, x_label: str) -> None:
    top = max(float(df[x].max()), 1.0)
    base_cpus = float(df.loc[df["speedup"].sub(1).abs().idxmin(), x]) if len(df) else 1.0
    xs = np.linspace(base_cpus, top, 100)
    ax.plot(xs, xs / base_cpus, "--", color="grey", label="ideal (linear)")
    if fit.get("points", 0) and np.isfinite(fit["serial_fraction"]):
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


def throughput_panel(ax, df: pd.DataFrame, ceiling: pd.DataFrame | None, x: str, x_label: str) -> None:
    for key, g in df.groupby("series", sort=False):
        yerr = [g["env_steps_per_s"] - g["env_steps_per_s_ci_low"], g["env_steps_per_s_ci_high"] - g["env_steps_per_s"]]
        ax.errorbar(
            g[x],
            g["env_steps_per_s"],
            yerr=np.abs(np.nan_to_num(yerr)),
            marker="o",
            capsize=3,
            label=key if key.startswith("PPO") else f"PPO, {key}",
        )
    if ceiling is not None and not ceiling.empty:
        if x == "total_envs":  # every config samples with the same processes: the ceiling is one level
            width = int(df["sampling_processes"].iloc[0]) if "sampling_processes" in df else 1
            level = ceiling.loc[ceiling["processes"] == width, "env_steps_per_s"]
            if len(level):
                ax.axhline(
                    level.median(), ls="--", color="black", label=f"raw env ceiling, {_plural(width, 'process')}"
                )
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
    """``merged``: the trials table joined with ``telemetry_summary`` on trial_name, with a ``config`` label."""
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
        ax.bar(df["config"], pos, bottom=up, color=colours[part], label=_PART_LABELS[part])
        ax.bar(df["config"], neg, bottom=down, color=colours[part])
        up, down = up + pos, down + neg
    ax.scatter(df["config"], df["lost_time_s"], color="black", marker="D", zorder=3, label="net: measured - ideal")
    ax.axhline(0, color="black", lw=0.8)
    span = max(up.max() - down.min(), 1e-3)
    ax.set_ylim(down.min() - 0.05 * span, up.max() + 0.15 * span)
    for i, (_, r) in enumerate(df.iterrows()):
        ax.annotate(
            r["limited_by"], (i, max(up[i], 0)), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=8
        )
    ax.set(
        ylabel="seconds per iteration vs ideal",
        title="Where the lost speedup went (above 0: lost, below: gained; label: what limits the config)",
    )
    ax.legend(fontsize=8, ncol=4)


def _speed(g: pd.DataFrame, side: str) -> pd.Series:
    """Speedup at the time interval's edges (a longer time is a lower speedup)."""
    t = g["time_per_iter_s_ci_high" if side == "low" else "time_per_iter_s_ci_low"]
    return (g["speedup"] * g["time_per_iter_s"] / t).fillna(g["speedup"])
