"""The Markdown report, from the findings and the experiment record only.

``render_markdown`` joins one function per section; each takes
``analysis.findings.Findings`` (and the record where it needs what ran where)
and nothing else. The dashboard is drawn by ``analysis.dashboard``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from parallel_tune.analysis.diagnosis import (
    LEARNER_BOUND_PCT,
    LIMITS,
    LOSS_PARTS,
    OWN_PARTS,
    PART_LABELS,
    processes_text,
)
from parallel_tune.analysis.findings import Findings
from parallel_tune.analysis.metrics import RATING_BANDS
from parallel_tune.core.files import DASHBOARD
from parallel_tune.core.record import NOT_RECORDED, ExperimentRecord
from parallel_tune.core.stats import PRECISION_HELP
from parallel_tune.core.tables import SKIPPED, UNFINISHED

#: Verdicts only an asynchronous algorithm's pipeline gives; PPO's budget does not list them.
ASYNCHRONOUS_ONLY = ("sampling",)

#: The order configs are listed in, in every table and panel: fewest sampling CPUs, then fewest envs.
ORDER = ["sampling_cpus", "total_envs"]


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


def _seed(row: pd.Series) -> str:
    """' (seed 1000)' for a learning check's replicate, else nothing."""
    seed = row.get("seed")
    return f" (seed {int(seed)})" if seed is not None and not pd.isna(seed) else ""


def plural(n: Any, noun: str) -> str:
    """'1 process', '4 processes', '2 sampling CPUs'."""
    if n is None or pd.isna(n):
        return f"n/a {noun}"
    suffix = "" if float(n) == 1 else ("es" if noun.endswith("s") else "s")
    return f"{float(n):g} {noun}{suffix}"


def config_label(row: pd.Series) -> str:
    """``4r x 2e``: the original study's shorthand, then any other grid axis (the loader's ``label``)."""
    label = row.get("label")
    label = label if isinstance(label, str) and label else str(row.get("trial_name", "?"))
    return f"{label} †" if row.get("raced_out") is True else label


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
    record: ExperimentRecord,
    *,
    problems: list[str] = (),
    experiment_dir: str | None = None,
    dashboard_name: str = DASHBOARD,
) -> str:
    """The whole report: one section function after another."""
    warmup = record.space.warmup_iterations if record.space else 1
    sections = [
        header_section(record, dashboard_name),
        results_section(found, warmup),
        race_section(found),
        drift_section(found),
        recommendation_section(found),
        learning_section(found),
        budget_section(found),
        learner_device_section(found),
        why_section(found),
        ceiling_section(found),
        measurement_section(found, record),
        placement_section(found.configs),
        hardware_section(found, record.options.get("telemetry_interval_s")),
        misconfiguration_section(found),
        failed_section(found.configs, experiment_dir),
        problems_section(list(problems)),
    ]
    return "\n".join(line for section in sections for line in section)


def header_section(record: ExperimentRecord, dashboard_name: str) -> list[str]:
    """What was run where, with which versions: scaling numbers compare only under the same ones."""
    space, machine, versions = record.space, record.machine, record.versions
    ppo = space.ppo if space else {}
    gpus = (", ".join(machine["gpu_models"]) or "none") if "gpu_models" in machine else NOT_RECORDED
    nodes = record.cluster.get("nodes") or []
    # An experiment made without parallel_tune knows its host from its results, not its hardware: name the host.
    known = machine.get("cpu_model", NOT_RECORDED) != NOT_RECORDED
    host = f" ({machine['hostname']})" if not known and machine.get("hostname", NOT_RECORDED) != NOT_RECORDED else ""
    where = (
        f"Driver machine{host}: {machine.get('cpu_model', NOT_RECORDED)}, "
        f"{machine.get('logical_cores', NOT_RECORDED)} logical / {machine.get('physical_cores', NOT_RECORDED)} "
        f"physical cores, GPUs: {gpus}. "
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
    algorithm = record.algorithm.get("name", space.algorithm if space else NOT_RECORDED)
    resolved = record.algorithm.get("config") or {}
    batch = ppo.get("train_batch_size", resolved.get("train_batch_size", NOT_RECORDED))
    return [
        f"# Scaling report: {space.name if space else NOT_RECORDED}",
        "",
        f"{space.env if space else NOT_RECORDED}, {algorithm} train_batch_size {batch}, "
        f"{space.iterations if space else NOT_RECORDED} iterations per config "
        f"({space.warmup_iterations if space else NOT_RECORDED} warm-up, excluded). {where}"
        + ", ".join(f"{k} {versions.get(k, NOT_RECORDED)}" for k in ("ray", "torch", "gymnasium", "mujoco"))
        + f"; run {machine.get('date_utc', NOT_RECORDED)}.",
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
    # An asynchronous algorithm's iterations are time-boxed: its time is per 1,000 env steps.
    time_col, time_head = ("time_per_kstep_s", "s/1k steps") if found.asynchronous else ("time_per_iter_s", "s/iter")
    for _, r in scaled.sort_values(ORDER).iterrows():
        flag = " ⚠ wide CI" if r["unreliable"] else ""
        rows.append(
            [
                config_label(r),
                str(int(r["total_envs"])),
                _num(r["sampling_cpus"], "g"),
                _with_ci(r, time_col),
                _num(r["env_steps_per_s"], ",.0f"),
                _num(r["speedup"]) + "x",
                _num(r["efficiency_per_env_pct"], ".1f") + " %",
                _num(r["efficiency_per_cpu_pct"], ".1f") + " %",
                r["rating"] + flag,
            ]
        )
    header = ["config", "envs", "sampling CPUs", f"{time_head} [95 % CI]", "env steps/s", "speedup", "eff./env"]
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
            f"- {r['trial_name']}{_seed(r)} continued from its checkpoint after iteration "
            f"{int(r['restored_after_iteration'])} (a resumed sweep); its first {warmup_iterations} iteration(s) "
            "after the restore paid actor start-up again and are excluded like warm-up."
        )
    rerun = found.configs[found.configs.get("iterations_rerun", pd.Series(0, index=found.configs.index)) > 0]
    for _, r in rerun.iterrows():
        out.append(
            f"- {r['trial_name']}: {int(r['iterations_rerun'])} iteration(s) ran again after a restore; the first "
            "complete run of each is the measurement, the re-run (a new process's warm-up) is set aside."
        )
    if len(found.restarts) or len(rerun):
        out.append("")
    return out


def race_section(found: Findings) -> list[str]:
    """A race's winner with its interval, each raced-out config with the evidence, and the time it saved."""
    r = found.race
    if not r:
        return []
    configs = r["configs"]
    labels = dict(zip(configs["trial_name"], configs["label"], strict=True))
    rows = []
    for _, c in configs.iterrows():
        speed = f"{_num(c['steps_per_s'], ',.0f')} [{_num(c['steps_per_s_ci_low'], ',.0f')}, "
        speed += f"{_num(c['steps_per_s_ci_high'], ',.0f')}]"
        outcome, against = c["outcome"], ""
        if outcome == "raced out":
            outcome = f"raced out after iteration {int(c['raced_out_at_iteration'])}"
            against = f"{labels.get(c['incumbent'], c['incumbent'])}'s {_num(c['incumbent_steps_per_s'], ',.0f')}"
        rows.append([str(c["label"]), outcome, str(int(c["iterations"])), speed, against])
    head = ["config", "outcome", "iterations", "env steps/s [95 % CI]", "stopped against"]
    out = [f"## The race (--goal fastest): {r['winner_label'] or 'no winner'}", ""]
    if r["winner"]:
        w = configs[configs["trial_name"] == r["winner"]].iloc[0]
        out += [
            f"**{r['winner_label']} is the fastest config**: {_num(w['steps_per_s'], ',.0f')} env steps/s "
            f"[95 % CI {_num(w['steps_per_s_ci_low'], ',.0f')}, {_num(w['steps_per_s_ci_high'], ',.0f')}].",
            "",
        ]
    raced = int((configs["outcome"] == "raced out").sum())
    out += [
        f"Configs ran fastest-predicted first (by {r['predicted_by'] or 'the grid order'}). A config was stopped as "
        "soon as the upper end of the 95 % interval of its median env steps/s fell more than "
        f"{100 * r['margin']:g} % below the median of the fastest config measured to its end so far; "
        f"{raced} of {len(configs)} {'was' if raced == 1 else 'were'}.",
        "",
        _table(head, rows, "llrrl"),
        "",
    ]
    if r["race_s"] == r["race_s"]:
        out += [
            f"The race's trials took {r['race_s']:,.0f} s (the first trial's start to the last one's end). A full grid "
            f"at the same precision would have taken about {r['full_grid_s']:,.0f} s: the raced-out configs measured "
            "until the precision target at their noise (or the cap) would have run "
            f"{configs['extra_s'].sum():,.0f} s more. The race saved {100 * r['saved_fraction']:.0f} %.",
            "",
        ]
    check = r.get("check") or {}
    if check:
        text = (
            f"The winner, re-measured at the end ({check['n']} iterations): {_num(check['steps_per_s'], ',.0f')} env "
            f"steps/s [95 % CI {_num(check['ci_low'], ',.0f')}, {_num(check['ci_high'], ',.0f')}]"
        )
        if check.get("runner_up") is not None:
            versus = f"the runner-up, {check['runner_up']} ({_num(check['runner_up_steps_per_s'], ',.0f')} in the race)"
            text += {
                "still wins": f": it still wins, its whole interval above {versus}.",
                "ties": f": ⚠ its interval holds {versus}; the two are a tie at this noise.",
                "no longer wins": f": ⚠ **it no longer wins**, its whole interval below {versus}; re-run the race.",
            }[check["verdict"]]
        out += [text, ""]
    if raced:
        out += [
            "† raced out: its speedup, efficiency and verdict in every table come from the iterations measured "
            "before it was stopped, which are fewer than the precision target asks.",
            "",
        ]
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


def measurement_section(found: Findings, record: ExperimentRecord) -> list[str]:
    """How much each config was measured and how noisy it was, whether the precision asked was reached (and if not,
    what it would take), and what the harness cost."""
    scaled, space = found.scaled, record.space
    if scaled.empty or space is None:
        return []
    cap, warmup = space.iterations, space.warmup_iterations
    if found.precision:
        intro = (
            f"Precision asked: ±{100 * found.precision:g} % (the 95 % interval of the median time per iteration), "
            f"after at least {space.min_measured_iterations} measured iterations; {cap} iterations at most "
            f"({warmup} warm-up)."
        )
    else:
        intro = f"No precision target: every config ran its {cap} iterations ({warmup} warm-up)."
        if space.env_steps:
            intro = (
                f"No precision target: a training budget of {space.env_steps:,} env steps per run, {cap} iterations "
                f"at most ({warmup} warm-up)."
            )
    merged = scaled
    rows = []
    for _, r in merged.sort_values(ORDER).iterrows():
        reached = r.get("precision_reached")
        verdict = "–" if reached is None or pd.isna(reached) else ("yes" if reached else "⚠ no: hit the cap")
        rows.append(
            [
                config_label(r),
                _num(r["iterations_completed"], ".0f"),
                str(int(r["n_measured"])),
                "±" + _num(100 * r["rel_half_width"], ".1f") + " %",
                verdict,
                _num(r.get("time_cv_pct", np.nan), ".1f") + " %",
                _num(r.get("cpu_steal_pct_mean", np.nan), ".1f"),
                _num(r.get("startup_s", np.nan), ".1f"),
            ]
        )
    header = ["config", "iterations run", "measured", "95 % CI half-width", "precision reached", "time CV"]
    out = [
        "## How long each config was measured",
        "",
        intro,
        "",
        _table([*header, "steal %", "start-up s"], rows, "lrrrlrrr"),
        "",
    ]
    out += [
        "Time CV is the spread of the measured iterations' times (standard deviation over mean); steal % the CPU "
        "time the hypervisor gave other tenants while the trial ran (– where the kernel does not report it).",
        "",
    ]
    short = scaled[scaled["precision_reached"] == False] if "precision_reached" in scaled else scaled.iloc[0:0]  # noqa: E712
    if len(short):
        allowed = space.iterations - space.warmup_iterations
        out.append(
            f"±{100 * found.precision:g} % was out of reach for {len(short)} of {len(scaled)} configs at the noise "
            f"they measured (the cap allowed {allowed} measured iterations); about how many each would need:"
        )
        for _, r in short.sort_values(ORDER).iterrows():
            needed = r.get("iterations_needed")
            out.append(
                f"- {config_label(r)}: ±{100 * r['rel_half_width']:.1f} % after {int(r['n_measured'])} (time CV "
                f"{r.get('time_cv_pct', np.nan):.0f} %): {f'about {needed:.0f}' if pd.notna(needed) else 'cannot say'}"
            )
        out += ["", f"What helps: {PRECISION_HELP}.", ""]
    h = found.harness
    if h and not pd.isna(h.get("wall_s")):
        share = 100 * h["in_iterations_s"] / h["wall_s"] if h["wall_s"] else float("nan")
        out += [
            f"The sweep took {h['wall_s']:.0f} s from its start to its last result"
            + (
                f" (less the {h['stopped_s']:.0f} s from its last result before an interruption to the resume"
                + ("" if h["resumes"] == 1 else f"; {h['resumes']} resumes")
                + ")"
                if h.get("resumes")
                else ""
            )
            + f", {h['in_iterations_s']:.0f} s of "
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
        f"- **Fastest:** {config_label(pd.Series(fastest))} ({plural(fastest['sampling_cpus'], 'sampling CPU')}), "
        + (
            f"{_num(fastest['time_per_kstep_s'])} s per 1,000 env steps, "
            if found.asynchronous
            else f"{_num(fastest['time_per_iter_s'])} s/iter, "
        )
        + f"{_num(fastest['env_steps_per_s'], ',.0f')} env steps/s, "
        f"efficiency {_num(fastest['efficiency_per_cpu_pct'], '.0f')} % per CPU"
    )
    if found.ceiling is not None and "ceiling_fraction_pct" in fastest:
        line += (
            f", {_num(fastest.get('ceiling_fraction_pct'), '.1f')} % of the raw environment ceiling at "
            f"{plural(fastest.get('sampling_processes'), 'process')}"
        )
    else:
        line += " (no ceiling measured: sweep with `--ceiling` to see how far this is from the bare environment)"
    out = ["## Recommendation", "", line + "."]
    if "fastest_learning" in found.recommendation:
        learner = found.recommendation["fastest_learning"]
        untold = found.recommendation.get("faster_untold") or []
        runs = int(found.learning["runs"].max())
        doubt = (
            f"; faster, but {runs} seeds cannot tell whether they learn as well: {', '.join(untold)}" if untold else ""
        )
        if learner is None:
            out.append(f"- **Fastest that learns as well as the baseline:** none could be told{doubt} (see Learning).")
        else:
            same = " (the fastest)" if learner["trial_name"] == fastest["trial_name"] else ""
            known = (
                " (the baseline: no faster config is known to learn as well)"
                if untold and learner.get("is_baseline")
                else ""
            )
            out.append(
                f"- **Fastest that learns as well as the baseline:** {config_label(pd.Series(learner))}{same}{known}, "
                f"{_num(learner['env_steps_per_s'], ',.0f')} env steps/s{doubt} (see Learning)."
            )
    as_fast = found.recommendation.get("as_fast") or []
    if as_fast:
        out.append(
            f"- **As fast within the intervals:** {', '.join(as_fast)}: their env steps/s interval reaches the "
            "fastest's, so another run on this machine could name one of them fastest."
        )
    if fastest.get("limited_by") not in (None, "baseline"):
        out.append(
            f"- **What limits it:** {LIMITS[fastest['limited_by']]} ({verdict_text(pd.Series(fastest))}). "
            f"{fastest['advice']}"
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


#: What a learning verdict says, in words.
LEARNS = {
    "baseline": "the baseline",
    "as well": "learns as well",
    "better": "learns better",
    "worse": "learns worse",
    "cannot tell": "cannot tell",
}


def learning_section(found: Findings) -> list[str]:
    """A learning check's answer: final returns across seeds, against the baseline's, and to the target."""
    table = found.learning
    if table.empty:
        return []
    labels = dict(zip(found.scaled["trial_name"], found.scaled.apply(config_label, axis=1), strict=True))
    speed = dict(zip(found.scaled["trial_name"], found.scaled["env_steps_per_s"], strict=True))
    runs = int(table["runs"].max())
    target = found.target_return
    rows = []
    for _, r in table.iterrows():
        verdict = LEARNS[r["verdict"]]
        if r["verdict"] == "cannot tell" and pd.notna(r.get("seeds_needed")):
            verdict += f" (about {int(r['seeds_needed'])} seeds would)"
        p = (
            "–"
            if r["verdict"] == "baseline"
            else f"{_num(r.get('p_as_good'))} [{_num(r.get('p_as_good_ci_low'))}, {_num(r.get('p_as_good_ci_high'))}]"
        )
        row = [
            labels.get(r["trial_name"], r["trial_name"]),
            f"{_num(speed.get(r['trial_name']), ',.0f')} ({_num(r['steps_per_s_min'], ',.0f')}-"
            f"{_num(r['steps_per_s_max'], ',.0f')})",
            f"{_num(r['final_return_iqm'], ',.0f')} [{_num(r['final_return_iqm_ci_low'], ',.0f')}, "
            f"{_num(r['final_return_iqm_ci_high'], ',.0f')}]",
            f"{_num(r['final_return_min'], ',.0f')} to {_num(r['final_return_max'], ',.0f')}",
            p,
        ]
        if target is not None:
            row += [
                str(r["reached"]),
                _num(r["env_steps_to_target"], ",.0f"),
                _num(r["time_to_target_s"], ",.0f"),
            ]
        rows.append([*row, verdict])
    head = ["config", "env steps/s (runs' range)", "final return IQM [95 % CI]", "runs' range", "P(≥ baseline)"]
    if target is not None:
        head += [f"reached {target:g}", "env steps to it", "s to it"]
    out = [f"## Learning: does the faster config learn as well? ({runs} seeds per config)", ""]
    out += [_table([*head, "verdict"], rows, "l" + "r" * (len(head) - 1) + "l"), ""]
    out.append(
        "Each config ran once per seed (seeds 1,000 apart, so no env runner or env shares a seed across "
        "replicates); every speed figure above pools its runs. Final return: the mean episode return over the last "
        "quarter of a run's env steps. Across seeds: the interquartile mean (IQM) with a stratified bootstrap 95 % "
        "interval, and P(≥ baseline), the chance that a run of the config ends at least as high as a run of the "
        "baseline (rliable's definitions). A config learns as well where the interval of its IQM's difference from "
        "the baseline's lies within ±10 % of the baseline's IQM; better or worse where it lies above or below 0; "
        "otherwise the seeds cannot tell (and about how many per config would, if the difference is that small)."
        + (
            f" Reached {target:g}: runs whose episode return reached it; the medians over those runs."
            if target is not None
            else ""
        )
    )
    out += ["", "A short budget says how configs compare early in training, not how they end.", ""]
    return out


def budget_section(found: Findings) -> list[str]:
    """Where the lost speedup went: the loss budget, the verdict and the advice of every config."""
    scaled = found.scaled
    if scaled.empty or "limited_by" not in scaled:
        return []
    if found.asynchronous:
        return asynchronous_budget_section(found)
    ordered = scaled.sort_values(ORDER)
    rows = [
        [
            config_label(r),
            _num(r["time_per_iter_s"]),
            _num(r["ideal_time_per_iter_s"]),
            _num(r["lost_time_s"], "+.2f"),
            *(_num(r[col], "+.2f") for col in LOSS_PARTS.values()),
            verdict_text(r),
        ]
        for _, r in ordered.iterrows()
    ]
    header = ["config", "s/iter", "ideal s", "lost s", *(PART_LABELS[p] for p in LOSS_PARTS), "limited by"]
    out = ["## Where the lost speedup went", "", _table(header, rows, "l" + "r" * (len(header) - 2) + "l"), ""]
    out += [f"- {explain(r, found.cores)}" for _, r in ordered.iterrows()]
    out += [
        "",
        "The ideal time of a config is the baseline's scaled by sampling CPUs (twice the CPUs, half the time; more "
        "envs on the same runners, the same time). Each column is that part's seconds per iteration minus the "
        "baseline's, scaled the same way; they add up to the lost seconds, and a negative part is a gain. "
        "Sampling is split by RLlib's per-step timers (env step, inference, connectors) and what they leave "
        "(sampling wait: the slowest runner, episode collection). Verdicts: "
        + "; ".join(f"`{k}` {v}" for k, v in LIMITS.items() if k not in ASYNCHRONOUS_ONLY)
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
    if verdict == "cannot tell":
        return f"{head}, {net}: {LIMITS[verdict]}. {r['advice']}"
    if verdict == "mixed":
        return f"{head}, {net}: {_contenders_text(r)}: `mixed`. {r['advice']}"
    if lost > 0 and r[LOSS_PARTS[verdict]] > 0:
        part = r[LOSS_PARTS[verdict]]
        share = f"of the {net}, {part:.2f} s" if part <= lost else f"{part:.2f} s ({net} net, other parts gained)"
        return f"{head}; {share} is {LIMITS[verdict]}: limited by `{verdict}`. {r['advice']}"
    gains = {p: r[LOSS_PARTS[p]] for p in LOSS_PARTS}
    best = min(gains, key=gains.get)
    return (
        f"{head}: {abs(r['lost_time_s']):.2f} s {'faster than' if r['lost_time_s'] < 0 else 'over, near the'} ideal "
        f"(the largest gain: {PART_LABELS[best]}, {gains[best]:+.2f} s). Its largest remaining cost is "
        f"{LIMITS[verdict]}: limited by `{verdict}`. {r['advice']}"
    )


def _contenders_text(r: pd.Series) -> str:
    """'env step +1.20 s [0.80, 1.55] and learner +1.05 s [0.70, 1.40] lose about as much' (or, within tolerance of
    the ideal, the two largest costs of its own)."""
    parts = [p.strip() for p in str(r.get("contenders", "")).split(",") if p.strip() in LOSS_PARTS]
    if r.get("verdict_basis") == "own":
        own = " and ".join(f"{PART_LABELS[p]} {r[OWN_PARTS[p]]:.2f} s" for p in parts)
        return f"its two largest costs, {own}, are about as large"
    each = []
    for p in parts:
        col = LOSS_PARTS[p]
        interval = (
            f" [{r[col + '_ci_low']:+.2f}, {r[col + '_ci_high']:+.2f}]" if pd.notna(r.get(col + "_ci_low")) else ""
        )
        each.append(f"{PART_LABELS[p]} {r[col]:+.2f} s{interval}")
    return f"{' and '.join(each)} lose about as much"


def verdict_text(r: pd.Series) -> str:
    """'`learner`', or '`mixed` (env step, learner)': a verdict as the tables show it."""
    if r["limited_by"] == "mixed":
        return f"`mixed` ({', '.join(PART_LABELS.get(p, p) for p in str(r['contenders']).split(', '))})"
    return f"`{r['limited_by']}`"


def learner_device_section(found: Findings) -> list[str]:
    """Did the GPU shorten the learner update? Configs equal but for ``num_gpus_per_learner``, side by side."""
    scaled, key = found.scaled, "num_gpus_per_learner"
    if scaled.empty or key not in scaled or scaled[key].nunique() < 2:
        return []
    others = [k for k in ("num_env_runners", "num_envs_per_env_runner") if k in scaled]
    out = ["## CPU learner or GPU learner", ""]
    for _, group in scaled.groupby(others):
        cpu, gpu = group[group[key] == 0], group[group[key] > 0]
        if cpu.empty or gpu.empty:
            continue
        c, g = cpu.iloc[0], gpu.iloc[0]
        busy = g.get("gpu_util_pct_mean", np.nan)
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


def asynchronous_budget_section(found: Findings) -> list[str]:
    """What an asynchronous algorithm lost, whole, and which side of its pipeline waits for the other."""
    rows = [
        [
            config_label(r),
            _num(r["time_per_kstep_s"]),
            _num(r["ideal_time_per_kstep_s"]),
            _num(r["lost_time_per_kstep_s"], "+.2f"),
            f"{_num(r.get('learner_busy_pct'), '.0f')} % [{_num(r.get('learner_busy_pct_ci_low'), '.0f')}, "
            f"{_num(r.get('learner_busy_pct_ci_high'), '.0f')}]",
            verdict_text(r),
        ]
        for _, r in found.scaled.sort_values(ORDER).iterrows()
    ]
    header = ["config", "s/1k steps", "ideal s", "lost s", "learner busy [95 % CI]", "limited by"]
    out = ["## Where the lost speedup went", "", _table(header, rows, "lrrrrl"), ""]
    out += [f"- {config_label(r)}: {r['advice']}" for _, r in found.scaled.sort_values(ORDER).iterrows()]
    out += [
        "",
        "An asynchronous algorithm (APPO, IMPALA) samples and learns at once, so an iteration does not split into "
        "parts that add up: the loss is whole, in seconds per 1,000 env steps against the baseline's scaled by "
        "sampling CPUs. The verdict says which side of the pipeline waits for the other: the learner busy "
        f"{LEARNER_BOUND_PCT:g} % of its time or more (its interval's lower end) holds the samples up (`learner`); "
        "busy less (its interval's upper end), it waits for them (`sampling`); an interval across the line is "
        "`mixed`; and first, as for PPO, processes that outnumber saturated cores (`cpu_cores`).",
        "",
    ]
    return out


def why_section(found: Findings) -> list[str]:
    """The raw parts of an iteration and the scaling fits, for a reader who wants to check the verdicts."""
    scaled, fit = found.scaled, found.fit
    if scaled.empty:
        return []
    if found.asynchronous:
        return [
            "## Why scaling stops",
            "",
            "RLlib's iteration timers time the driver's loop of an asynchronous algorithm (thousands of training "
            "steps an iteration, each collecting whatever is ready), not the parts of one iteration; the split of "
            "PPO's iteration does not apply. Inside the env runners, per step of all a runner's envs: "
            + "; ".join(
                f"{config_label(r)} env step {_num(r['env_step_per_step_ms'], '.3f')} ms, inference "
                f"{_num(r['inference_per_step_ms'], '.3f')} ms"
                for _, r in scaled.sort_values(ORDER).iterrows()
            )
            + ".",
            "",
        ]
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
        for _, r in scaled.sort_values(ORDER).iterrows()
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
    crowded = scaled[scaled["cores_oversubscribed"]] if "cores_oversubscribed" in scaled else scaled.iloc[0:0]
    left_out = ""
    if len(crowded):
        left_out = (
            f" Left out of the fit: {', '.join(crowded.apply(config_label, axis=1))}, whose processes outnumber the "
            "cores (their speedup says how many processes shared a core, not how RLlib scales)."
        )
    if "serial_fraction" in fit:
        out.append(
            f"**Amdahl's law** over the runner-only configs whose processes fit the cores ({fit['points']} widths "
            "> 1): serial fraction "
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
    elif scaled["num_env_runners"].nunique() > 1:
        n = fit.get("points", 0)
        out += [
            f"No Amdahl fit: {n} runner count(s) above the smallest fit the cores, and one point fits any serial "
            f"fraction exactly; a fit needs at least two.{left_out}",
            "",
        ]
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
        for _, r in scaled.sort_values(ORDER).iterrows()
    ]
    raw = ", ".join(
        f"{int(r.processes)}: {r.env_steps_per_s:,.0f}" for r in ceiling.sort_values("processes").itertuples()
    )
    return [
        "## Against the raw environment ceiling",
        "",
        _table(["config", "sampling processes", f"{found.algorithm} env steps/s", "raw env steps/s", "fraction"], rows),
        "",
        "The raw ceiling is the same environment stepped with random actions by as many processes at once, no "
        f"RLlib (`parallel_tune.ceiling`; steps/s by processes: {raw}). The gap is what RLlib adds per step "
        "(policy inference, connectors, episode collection), not physics. Widths are matched exactly; a config "
        "whose width was not measured shows n/a.",
        "",
    ]


def placement_section(configs: pd.DataFrame) -> list[str]:
    """Where each trial's bundles ran, when the sweep used more than one node."""
    if configs.empty or configs["nodes_used"].max() < 1:
        return []
    import json

    nodes = {e["node_id"] for b in configs["bundle_nodes"] if b for e in json.loads(b)}
    if len(nodes) < 2:
        return []
    ran = configs[configs["placement"].astype(bool)]
    lines = [f"- {config_label(r)}: {r['placement']}" for _, r in ran.iterrows()]
    return ["## Where each trial ran", "", *lines, "", "Nodes by the first 6 characters of their Ray node id.", ""]


def hardware_section(found: Findings, interval_s: float | None) -> list[str]:
    """What the trials reserved against what they used, per node on a cluster: the evidence for cpu_cores."""
    configs = found.configs
    if configs.empty or "samples" not in configs or not (configs["samples"] > 0).any():
        return []
    merged = configs[configs["samples"] > 0].sort_values(ORDER, kind="stable")
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
        labels = configs.set_index("trial_name")
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
    if not merged["gpu_util_pct_mean"].notna().any():
        out.append("No GPU was visible to NVML on this machine: GPU columns are empty, not zero.")
    return [*out, ""]


def misconfiguration_section(found: Findings) -> list[str]:
    if not found.warnings:
        return []
    return ["### Misconfigurations", "", *(f"- {w}" for w in found.warnings), ""]


def failed_section(configs: pd.DataFrame, experiment_dir: str | None = None) -> list[str]:
    """Every config without a finished measurement, and how a stopped sweep goes on."""
    if configs.empty:
        return []
    failed = configs[configs["status"].isin(["ERROR", SKIPPED, *UNFINISHED])]
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
            f"The sweep stopped before {unfinished} of {len(configs[configs['status'] != SKIPPED])} configs finished: "
            f"this report covers what was measured. `{resume}` measures the rest.",
            "",
        ]
    return lines


def problems_section(problems: list[str]) -> list[str]:
    if not problems:
        return []
    return ["## Problems reading the experiment", "", *(f"- {p}" for p in problems), ""]
