"""Why scaling stops: where every lost second goes, what limits each config, what to try.

Pure functions over the per-config table after ``metrics.scaling``; no Ray, no I/O.

**The loss budget.** A config's ideal time per iteration is the baseline's
scaled by sampling CPUs (``ideal = T_base x C_base / C``: twice the CPUs,
half the time; equal CPUs, equal time). What it measured above that ideal is
split into parts that add up to it exactly: each part of the iteration
(sampling, learner update, weight sync, other) measured minus the baseline's
same part scaled the same way, and sampling further into what RLlib's
per-step timers explain (env step, inference, connectors) and the rest
(``sampling_wait``: waiting for the slowest runner, shipping episodes).
A negative part is a gain: 16 envs on one runner batch their inference, so
that part comes out below the ideal.

**The verdict** (``limited_by``), from a small vocabulary (``LIMITS``):
``cpu_cores`` when the config's processes want more CPUs than the nodes have
cores, the cores were saturated while it ran, and its per-env step cost rose
against the baseline's (processes waiting for a core, not RLlib); otherwise
the part with the largest loss; for a config within ``tolerance`` of its ideal
(or faster), the largest part of its own time, which bounds the next step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parallel_tune.core import spaces

#: What ``limited_by`` can say, and the advice that follows from each verdict.
LIMITS = {
    "baseline": "the reference every other config is measured against",
    "cpu_cores": "more processes than cores: the runners wait for a CPU, not for RLlib",
    "learner": "the learner update, which more env runners do not shorten",
    "weight_sync": "broadcasting the new weights to the env runners",
    "other": "time outside RLlib's iteration timers (result processing, metrics, callbacks)",
    "sampling:env_step": "stepping the environment itself",
    "sampling:inference": "the policy's forward pass, one call per runner step",
    "sampling:connectors": "the connector pipelines around every runner step",
    "sampling:wait": "sampling time no per-step timer explains: waiting for the slowest runner, collecting episodes",
}

#: The budget's columns (seconds per iteration), in the order they add up to measured - ideal.
LOSS_PARTS = {
    "sampling:env_step": "lost_env_step_s",
    "sampling:inference": "lost_inference_s",
    "sampling:connectors": "lost_connectors_s",
    "sampling:wait": "lost_sampling_wait_s",
    "learner": "lost_learner_s",
    "weight_sync": "lost_weight_sync_s",
    "other": "lost_other_s",
}

#: How each part reads in a table header or a legend.
PART_LABELS = {
    "sampling:env_step": "env step",
    "sampling:inference": "inference",
    "sampling:connectors": "connectors",
    "sampling:wait": "sampling wait",
    "learner": "learner",
    "weight_sync": "weight sync",
    "other": "other",
}

#: Per-iteration seconds of each part (the budget's terms before scaling by the baseline).
_PART_SECONDS = {
    "sampling:env_step": "env_step_s",
    "sampling:inference": "inference_s",
    "sampling:connectors": "connectors_s",
    "sampling:wait": "sampling_wait_s",
    "learner": "learner_update_s",
    "weight_sync": "weight_sync_s",
    "other": "unaccounted_s",
}


def _ms(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].fillna(0.0) if col in df else pd.Series(0.0, index=df.index)


def iteration_parts(scaled: pd.DataFrame) -> pd.DataFrame:
    """Seconds per iteration of every budget part; they add up to ``time_per_iter_s``.

    Per-step timers are per step of one env runner over all its envs; a runner
    steps ``env_steps_per_iter / (sampling processes x envs per runner)`` times
    an iteration, and runners step in parallel, so that many steps of each
    timer are the seconds it explains. What they leave of ``sampling_s`` is
    ``sampling_wait_s``; what the iteration timers leave of the iteration is
    ``unaccounted_s`` (unclamped, so the parts always add up).
    """
    out = scaled.copy()
    processes = spaces.sampling_processes(out[spaces.RUNNERS].fillna(0).astype(int))
    runner_steps = out["env_steps_per_iter"] / (processes * out[spaces.ENVS_PER_RUNNER].fillna(1))
    out["env_step_s"] = runner_steps * _ms(out, "env_step_per_step_ms") / 1e3
    out["inference_s"] = runner_steps * _ms(out, "inference_per_step_ms") / 1e3
    connectors = _ms(out, "env_to_module_per_step_ms") + _ms(out, "module_to_env_per_step_ms")
    out["connectors_s"] = runner_steps * connectors / 1e3
    sampling = _ms(out, "sampling_s")
    out["sampling_wait_s"] = sampling - out["env_step_s"] - out["inference_s"] - out["connectors_s"]
    for col in ("learner_update_s", "weight_sync_s"):
        out[col] = _ms(out, col)
    out["unaccounted_s"] = out["time_per_iter_s"] - sampling - out["learner_update_s"] - out["weight_sync_s"]
    return out


def loss_budget(scaled: pd.DataFrame) -> pd.DataFrame:
    """Ideal time and the lost seconds of each part, per config.

    ``scaled`` (one row per config, from ``metrics.scaling``): num_env_runners,
    num_envs_per_env_runner, is_baseline, sampling_cpus, time_per_iter_s,
    env_steps_per_iter, sampling_s, learner_update_s, weight_sync_s and the
    per-step ``*_per_step_ms`` timers (NaN counts as 0).

    Adds ``iteration_parts``' columns and: ideal_time_per_iter_s (baseline
    time x baseline sampling CPUs / sampling CPUs), lost_time_s (measured -
    ideal), and one ``lost_<part>_s`` per ``LOSS_PARTS`` (the part measured
    minus the baseline's part scaled like the ideal; negative is a gain). The
    ``lost_<part>_s`` columns sum to ``lost_time_s``.
    """
    out = iteration_parts(scaled)
    base = out[out["is_baseline"]].iloc[0]
    scale = base["sampling_cpus"] / out["sampling_cpus"]
    out["ideal_time_per_iter_s"] = base["time_per_iter_s"] * scale
    out["lost_time_s"] = out["time_per_iter_s"] - out["ideal_time_per_iter_s"]
    for part, lost in LOSS_PARTS.items():
        col = _PART_SECONDS[part]
        out[lost] = out[col] - base[col] * scale
    return out


def limits(
    budget: pd.DataFrame,
    *,
    cores: float,
    tolerance: float = 0.05,
    saturated_fraction: float = 0.75,
    step_cost_rise: float = 1.2,
) -> pd.DataFrame:
    """``limited_by`` and ``advice`` per config, with the evidence for the core verdict.

    ``budget``: ``loss_budget``'s table, plus from the trials and telemetry
    (NaN where not measured): cpus_reserved, busy_cores_mean, load_avg_1m_peak.
    ``cores``: the cores of the node(s) the sweep ran on (real cores, not the
    logical CPUs Ray was told about). Adds: env_step_per_env_ms (the per-env
    cost of one env step), step_cost_ratio (that cost against the baseline's),
    cores_saturated (busy cores at least ``saturated_fraction`` of ``cores``,
    or a load average above them), cpus_wanted (CPUs reserved, or busy
    processes where ASYNC envs add unreserved ones), cores_oversubscribed
    (cpus_wanted above ``cores``), limited_by and advice.
    """
    out = budget.copy()
    out["env_step_per_env_ms"] = _ms(out, "env_step_per_step_ms") / out[spaces.ENVS_PER_RUNNER].fillna(1)
    base = out[out["is_baseline"]].iloc[0]
    out["step_cost_ratio"] = out["env_step_per_env_ms"] / base["env_step_per_env_ms"]
    busy = out["busy_cores_mean"] if "busy_cores_mean" in out else pd.Series(np.nan, index=out.index)
    load = out["load_avg_1m_peak"] if "load_avg_1m_peak" in out else pd.Series(np.nan, index=out.index)
    measured = busy.notna() | load.notna()
    out["cores_saturated"] = (busy >= saturated_fraction * cores) | (load > cores) | ~measured
    out["cpus_wanted"] = _wanted(out)
    out["cores_oversubscribed"] = out["cpus_wanted"] > cores
    core_bound = out["cores_oversubscribed"] & out["cores_saturated"] & (out["step_cost_ratio"] >= step_cost_rise)
    verdicts, advice = [], []
    for i, r in out.iterrows():
        if r["is_baseline"]:
            verdict = "baseline"
        elif core_bound.loc[i]:
            verdict = "cpu_cores"
        elif r["lost_time_s"] > tolerance * r["ideal_time_per_iter_s"]:
            verdict = max(LOSS_PARTS, key=lambda p: r[LOSS_PARTS[p]])
        else:  # at or beyond the ideal: what bounds the next step is its largest cost
            verdict = max(_PART_SECONDS, key=lambda p: r[_PART_SECONDS[p]])
        verdicts.append(verdict)
        advice.append(_advice(verdict, r, cores))
    out["limited_by"] = verdicts
    out["advice"] = advice
    return out


def _wanted(df: pd.DataFrame) -> pd.Series:
    """CPUs a config wants: what it reserves, or its busy processes where ASYNC envs add unreserved ones."""
    processes = df["busy_processes"] if "busy_processes" in df else df["cpus_reserved"]
    return np.maximum(df["cpus_reserved"], processes.fillna(0))


def processes_text(r: pd.Series) -> str:
    """'processes reserving 4 CPUs', or '9 busy processes (2 CPUs reserved)' where ASYNC envs add unreserved ones."""
    processes = r.get("busy_processes", np.nan)
    if processes > r["cpus_reserved"]:
        return f"{processes:g} busy processes ({r['cpus_reserved']:g} CPUs reserved)"
    return f"processes reserving {r['cpus_reserved']:g} CPUs"


def _advice(verdict: str, r: pd.Series, cores: float) -> str:
    main = r["cpus_reserved"] - r["sampling_cpus"] if r[spaces.RUNNERS] else 0.0
    free = max(int(cores - main), 1)
    # Cores no process of this config wants (unknown without the trial's reservation).
    spare = int(cores - r["cpus_wanted"]) if pd.notna(r["cpus_wanted"]) else None
    wants = processes_text(r)
    is_async = str(r.get("gym_env_vectorize_mode", "")).lower() == "async"
    if verdict == "sampling:env_step" and is_async:
        return (
            "Stepping the environment dominates, and with ASYNC every step includes the round trip to the env "
            "subprocesses: try SYNC (gym_env_vectorize_mode: sync) unless one env step is expensive."
        )
    if verdict == "sampling:env_step" and spare is not None and spare < 1:
        return (
            f"Stepping the environment dominates, and its {wants} already fill the {cores:g} cores: more env "
            "runners need more cores or nodes."
        )
    if verdict == "sampling:wait" and is_async:
        return (
            "The runner waits on its ASYNC env subprocesses: with few or cheap envs, SYNC "
            "(gym_env_vectorize_mode: sync) is faster."
        )
    if verdict == "sampling:wait" and r[spaces.RUNNERS] <= 1:
        return (
            "Sampling time outside the per-step timers (episode collection, per-step bookkeeping): more envs per "
            "runner (num_envs_per_env_runner) spread it over more steps."
        )
    return {
        "baseline": "Speedups and the ideal times are relative to this config.",
        "cpu_cores": (
            f"Its {wants} share {cores:g} cores: run at most {free} runner(s) here (one per free core), "
            f"{'fewer ASYNC envs (or SYNC), ' if is_async else ''}or add nodes."
        ),
        "learner": (
            f"The learner update ({r['learner_update_s']:.2f} s) does not shrink with more runners: try a remote "
            "learner (num_learners: 1), more learners, more CPUs for the main process (num_cpus_for_main_process), "
            "or a GPU learner."
        ),
        "weight_sync": "Weight sync grows with the runners: use fewer runners with more envs each.",
        "other": "Time outside RLlib's timers grows: check callbacks, metrics and result processing.",
        "sampling:env_step": "Stepping the environment dominates: add env runners, one per free core"
        + (f" ({spare} free here)." if spare else "."),
        "sampling:inference": "Per-step inference dominates: batch it with more envs per runner "
        "(num_envs_per_env_runner).",
        "sampling:connectors": "Per-step connector work dominates: batch it with more envs per runner "
        "(num_envs_per_env_runner).",
        "sampling:wait": "Runners wait on the slowest one and on episode collection: use fewer runners with "
        "more envs each.",
    }[verdict]


def diagnose(scaled: pd.DataFrame, *, cores: float, tolerance: float = 0.05) -> pd.DataFrame:
    """``loss_budget`` then ``limits``, over ``metrics.scaling``'s table of the measured configs.

    Each row already carries its reservation (cpus_reserved, busy_processes)
    and hardware use (busy_cores_mean, load_avg_1m_peak; NaN where nothing was
    sampled) from ``analysis.table.per_config``. Returns ``scaled`` with every
    column both functions add.
    """
    return limits(loss_budget(scaled), cores=cores, tolerance=tolerance)
