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

**The verdict** (``limited_by``), from a small vocabulary (``LIMITS``), facts
first: ``cpu_cores`` when more of the config's processes run at once than the
node(s) have physical cores and the cores were saturated while it ran
(processes waiting for a core, not RLlib), whatever the per-step ratios say;
they then only size how much of the loss the cores explain. Otherwise the part
with the largest loss; for a config within ``tolerance`` of its ideal (or
faster), the largest part of its own time, which bounds the next step.

**Verdicts with their uncertainty.** Given the measured iterations, the
budget is bootstrapped like the times are (each resample of a config's and
the baseline's iterations gives a budget of its own). A part is named alone
only when its lead over the next part has a 95 % interval above zero;
otherwise the verdict is ``mixed`` and ``contenders`` names both. Fewer than
``MIN_MEASURED`` measured iterations (of the config or the baseline) cannot
carry an interval: ``cannot tell``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from parallel_tune.core import spaces
from parallel_tune.core.stats import measured

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
    "mixed": "two parts that lose about as much, within their intervals (the report names both)",
    "cannot tell": "too few measured iterations to rank the parts (fewer than 3 of the config or of the baseline)",
    "sampling": "sampling, which an asynchronous algorithm's learner waits for",
}

#: Measured iterations a config (and the baseline) needs before its verdict carries an interval.
MIN_MEASURED = 3

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
OWN_PARTS = {
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
        col = OWN_PARTS[part]
        out[lost] = out[col] - base[col] * scale
    return out


def limits(
    budget: pd.DataFrame,
    *,
    cores: float,
    physical_cores: float | None = None,
    resamples: dict | None = None,
    tolerance: float = 0.05,
    saturated_fraction: float = 0.75,
) -> pd.DataFrame:
    """``limited_by``, ``contenders`` and ``advice`` per config, with the evidence for the core verdict.

    ``budget``: ``loss_budget``'s table, plus from the trials and telemetry
    (NaN where not measured): cpus_reserved, concurrent_processes,
    busy_processes, busy_cores_mean, load_avg_1m_peak. ``cores``: the logical
    cores of the node(s) the sweep ran on (not the CPUs Ray was told about),
    against which saturation is judged; ``physical_cores`` (default ``cores``):
    what concurrent processes are judged against. ``resamples``:
    ``resample_budget``'s replicates by row; without them each verdict is the
    point estimate's. Adds: env_step_per_env_ms, step_cost_ratio (that per-env
    cost against the baseline's: how much the cores slowed each step),
    cores_saturated (busy cores at least ``saturated_fraction`` of ``cores``,
    or a load average above them, or not measured), cpus_wanted (CPUs
    reserved, or busy processes where ASYNC envs add unreserved ones),
    cores_oversubscribed (concurrent processes above the physical cores), each
    ``lost_*_s_ci_low``/``_ci_high`` (with ``resamples``), verdict_lead_s_ci_low
    (the 95 % interval's lower end of the named part's lead over the next),
    verdict_basis ("lost": ranked by what each part lost; "own": within
    ``tolerance`` of the ideal, ranked by its own time), limited_by,
    contenders and advice.
    """
    out = _core_facts(budget, cores=cores, physical_cores=physical_cores, saturated_fraction=saturated_fraction)
    core_bound = out["cores_oversubscribed"] & out["cores_saturated"]
    for lost in LOSS_PARTS.values():
        out[f"{lost}_ci_low"], out[f"{lost}_ci_high"] = np.nan, np.nan
    verdicts, contenders, leads, bases, advice = [], [], [], [], []
    for i, r in out.iterrows():
        replicates = (resamples or {}).get(i)
        if replicates is not None:
            for lost in LOSS_PARTS.values():
                out.loc[i, [f"{lost}_ci_low", f"{lost}_ci_high"]] = np.percentile(replicates[lost], [2.5, 97.5])
        verdict, rivals, lead = _verdict(r, replicates, resamples is not None, core_bound.loc[i], tolerance)
        verdicts.append(verdict)
        contenders.append(", ".join(rivals))
        leads.append(lead)
        bases.append("lost" if r["lost_time_s"] > tolerance * r["ideal_time_per_iter_s"] else "own")
        if verdict == "mixed":
            both = " and ".join(PART_LABELS[p] for p in rivals)
            first = f"First, {PART_LABELS[rivals[0]]}: {_advice(rivals[0], r, cores)}"
            advice.append(f"Two parts lose about as much, within their intervals ({both}). {first}")
        else:
            advice.append(_advice(verdict, r, cores))
    out["limited_by"] = verdicts
    out["contenders"] = contenders
    out["verdict_lead_s_ci_low"] = leads
    out["verdict_basis"] = bases
    out["advice"] = advice
    return out


def _core_facts(
    table: pd.DataFrame,
    *,
    cores: float,
    physical_cores: float | None,
    saturated_fraction: float,
    overlapping: bool = False,
) -> pd.DataFrame:
    """The evidence for ``cpu_cores``: step_cost_ratio, cores_saturated, cpus_wanted, cores_oversubscribed."""
    out = table.copy()
    out["env_step_per_env_ms"] = _ms(out, "env_step_per_step_ms") / out[spaces.ENVS_PER_RUNNER].fillna(1)
    base = out[out["is_baseline"]].iloc[0]
    out["step_cost_ratio"] = out["env_step_per_env_ms"] / base["env_step_per_env_ms"]
    busy = out["busy_cores_mean"] if "busy_cores_mean" in out else pd.Series(np.nan, index=out.index)
    load = out["load_avg_1m_peak"] if "load_avg_1m_peak" in out else pd.Series(np.nan, index=out.index)
    sampled = busy.notna() | load.notna()
    out["cores_saturated"] = (busy >= saturated_fraction * cores) | (load > cores) | ~sampled
    out["cpus_wanted"] = _wanted(out)
    if "concurrent_processes" not in out:
        out["concurrent_processes"] = [
            spaces.concurrent_processes(r.to_dict(), overlapping=overlapping) for _, r in out.iterrows()
        ]
    out["cores_oversubscribed"] = out["concurrent_processes"] > (physical_cores or cores)
    return out


#: The learner's busy share from which an asynchronous algorithm's samples wait for its learner, not it for them.
LEARNER_BOUND_PCT = 80.0


def asynchronous_limits(
    scaled: pd.DataFrame, *, cores: float, physical_cores: float | None = None, saturated_fraction: float = 0.75
) -> pd.DataFrame:
    """What limits each config of an asynchronous algorithm (APPO, IMPALA), which samples and learns at once.

    Its iteration cannot be split into parts that add up (they overlap), so the
    budget is the whole loss per 1,000 env steps: ideal_time_per_kstep_s (the
    baseline's scaled by sampling CPUs) and lost_time_per_kstep_s; the
    ``lost_*_s`` parts stay NaN. Facts first, as for PPO: ``cpu_cores`` where
    the processes that run at once (runners and learners together) outnumber
    the physical cores of saturated nodes. Otherwise which side waits for the
    other: the learner busy ``LEARNER_BOUND_PCT`` or more of its time (its
    interval's lower end) limits (``learner``); busy less (its interval's upper
    end) means it waits for samples (``sampling``); an interval across the
    line is ``mixed``; no learner timer is ``cannot tell``.
    """
    out = _core_facts(scaled, cores=cores, physical_cores=physical_cores, saturated_fraction=saturated_fraction)
    base = out[out["is_baseline"]].iloc[0]
    out["ideal_time_per_kstep_s"] = base["time_per_kstep_s"] * base["sampling_cpus"] / out["sampling_cpus"]
    out["lost_time_per_kstep_s"] = out["time_per_kstep_s"] - out["ideal_time_per_kstep_s"]
    for col in ("ideal_time_per_iter_s", "lost_time_s", *LOSS_PARTS.values()):
        out[col] = np.nan
    verdicts, contenders, advice = [], [], []
    for _, r in out.iterrows():
        low, high = r.get("learner_busy_pct_ci_low", np.nan), r.get("learner_busy_pct_ci_high", np.nan)
        if r["is_baseline"]:
            verdict, rivals = "baseline", ["baseline"]
        elif r["cores_oversubscribed"] and r["cores_saturated"]:
            verdict, rivals = "cpu_cores", ["cpu_cores"]
        elif pd.isna(low):
            verdict, rivals = "cannot tell", []
        elif low >= LEARNER_BOUND_PCT:
            verdict, rivals = "learner", ["learner"]
        elif high < LEARNER_BOUND_PCT:
            verdict, rivals = "sampling", ["sampling"]
        else:
            verdict, rivals = "mixed", ["learner", "sampling"]
        verdicts.append(verdict)
        contenders.append(", ".join(rivals))
        advice.append(_asynchronous_advice(verdict, r, cores))
    out["limited_by"], out["contenders"], out["advice"] = verdicts, contenders, advice
    out["verdict_basis"] = "learner busy"
    return out


def _asynchronous_advice(verdict: str, r: pd.Series, cores: float) -> str:
    busy = f"{r.get('learner_busy_pct', np.nan):.0f} %"
    return {
        "baseline": "Speedups and the ideal times are relative to this config.",
        "cpu_cores": f"Its runners and learners run at once on {cores:g} cores: fewer runners here, or add nodes.",
        "learner": f"The learner is busy {busy} of its time, so samples queue for it: add learners "
        "(num_learners), a GPU learner (num_gpus_per_learner), or train on larger batches per update.",
        "sampling": f"The learner waits for samples (busy {busy}): more env runners, or more envs per runner, feed "
        "it faster.",
        "mixed": f"The learner is busy about {busy}, near where samples start to queue for it: both more runners "
        "and more learners may help; measure longer to tell.",
        "cannot tell": "No learner timer was reported to tell which side waits: measure more iterations.",
    }[verdict]


def _verdict(r: pd.Series, replicates, judged: bool, core_bound: bool, tolerance: float):
    """(limited_by, the parts it names, the lower end of the lead's interval) for one config."""
    if r["is_baseline"]:
        return "baseline", ["baseline"], np.nan
    if core_bound:
        return "cpu_cores", ["cpu_cores"], np.nan
    losing = r["lost_time_s"] > tolerance * r["ideal_time_per_iter_s"]
    # Losing: the part that lost the most; at or beyond the ideal: the largest cost of its own, bounding the next step.
    columns = LOSS_PARTS if losing else OWN_PARTS
    top, second = sorted(columns, key=lambda p: r[columns[p]], reverse=True)[:2]
    if not judged:
        return top, [top], np.nan
    if replicates is None:
        return "cannot tell", [], np.nan
    lead = float(np.percentile(replicates[columns[top]] - replicates[columns[second]], 2.5))
    return (top, [top], lead) if lead > 0 else ("mixed", [top, second], lead)


def resample_budget(
    budget: pd.DataFrame,
    iterations: pd.DataFrame,
    *,
    config_keys: list[str],
    warmup_iterations: int,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Bootstrap replicates of every measured config's loss budget, by ``budget``'s row.

    ``iterations``: the per-iteration table (``analysis.load``); each replicate
    resamples the config's measured iterations and the baseline's, takes the
    medians ``metrics.summarize`` takes, and splits them as ``loss_budget``
    does. A replicate is a row of: every ``lost_*_s`` of ``LOSS_PARTS``, every
    own-time part (``env_step_s``, ..., ``unaccounted_s``) and lost_time_s. A
    config (or a baseline) with fewer than ``MIN_MEASURED`` measured
    iterations has none.
    """
    rng = np.random.default_rng(seed)
    rows = {
        k if isinstance(k, tuple) else (k,): g for k, g in measured(iterations, warmup_iterations).groupby(config_keys)
    }
    base = budget[budget["is_baseline"]].iloc[0]
    base_rows = rows.get(tuple(base[k] for k in config_keys), pd.DataFrame())
    if len(base_rows) < MIN_MEASURED:
        return {}
    base_parts = iteration_parts(_resampled(base_rows, base, n_resamples, rng))
    out = {}
    for i, r in budget.iterrows():
        mine = rows.get(tuple(r[k] for k in config_keys), pd.DataFrame())
        if r["is_baseline"] or len(mine) < MIN_MEASURED:
            continue
        parts = iteration_parts(_resampled(mine, r, n_resamples, rng))
        scale = base["sampling_cpus"] / r["sampling_cpus"]
        replicate = parts[list(OWN_PARTS.values())].copy()
        replicate["lost_time_s"] = parts["time_per_iter_s"] - base_parts["time_per_iter_s"] * scale
        for part, lost in LOSS_PARTS.items():
            replicate[lost] = parts[OWN_PARTS[part]] - base_parts[OWN_PARTS[part]] * scale
        out[i] = replicate
    return out


#: The per-iteration column each budget input is the median of, and the factor to its unit.
_MEDIAN_OF = {
    "time_per_iter_s": ("time_this_iter_s", 1.0),
    "env_steps_per_iter": ("env_steps_sampled", 1.0),
    "sampling_s": ("sampling_s", 1.0),
    "learner_update_s": ("learner_update_s", 1.0),
    "weight_sync_s": ("weight_sync_s", 1.0),
    "env_step_per_step_ms": ("env_step_per_step_s", 1e3),
    "inference_per_step_ms": ("inference_per_step_s", 1e3),
    "env_to_module_per_step_ms": ("env_to_module_per_step_s", 1e3),
    "module_to_env_per_step_ms": ("module_to_env_per_step_s", 1e3),
}


def _resampled(rows: pd.DataFrame, config: pd.Series, n: int, rng) -> pd.DataFrame:
    """``n`` bootstrap resamples of one config's measured iterations, each reduced to the medians of the budget's
    inputs (NaN where a timer was not reported), with the config's runners and envs per runner."""
    pick = rng.integers(0, len(rows), size=(n, len(rows)))
    out = {}
    for col, (src, factor) in _MEDIAN_OF.items():
        values = rows[src].to_numpy(float) * factor if src in rows else np.full(len(rows), np.nan)
        if np.isnan(values).all():
            out[col] = np.nan
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only the timer's missing iterations
            out[col] = np.nanmedian(values[pick], axis=1)
    frame = pd.DataFrame(out, index=range(n))
    frame[spaces.RUNNERS], frame[spaces.ENVS_PER_RUNNER] = config[spaces.RUNNERS], config[spaces.ENVS_PER_RUNNER]
    return frame


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
        "cannot tell": f"Measure at least {MIN_MEASURED} iterations after warm-up (more --iterations, or a --precision "
        "target) to rank what limits it.",
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


def diagnose(
    scaled: pd.DataFrame,
    *,
    cores: float,
    physical_cores: float | None = None,
    iterations: pd.DataFrame | None = None,
    config_keys: list[str] | None = None,
    warmup_iterations: int = 1,
    n_resamples: int = 1000,
    seed: int = 0,
    tolerance: float = 0.05,
    asynchronous: bool = False,
) -> pd.DataFrame:
    """``loss_budget`` then ``limits``, over ``metrics.scaling``'s table of the measured configs (for an
    ``asynchronous`` algorithm, whose iteration does not split, ``asynchronous_limits``).

    Each row already carries its reservation (cpus_reserved, busy_processes,
    concurrent_processes) and hardware use (busy_cores_mean, load_avg_1m_peak;
    NaN where nothing was sampled) from ``analysis.table.per_config``. With the
    measured ``iterations`` (and their ``config_keys``), every verdict carries
    its uncertainty (``resample_budget``); without, it is the point estimate's.
    Returns ``scaled`` with every column both functions add.
    """
    if asynchronous:
        return asynchronous_limits(scaled, cores=cores, physical_cores=physical_cores)
    budget = loss_budget(scaled)
    resamples = None
    if iterations is not None:
        resamples = resample_budget(
            budget,
            iterations,
            config_keys=config_keys or [spaces.RUNNERS, spaces.ENVS_PER_RUNNER],
            warmup_iterations=warmup_iterations,
            n_resamples=n_resamples,
            seed=seed,
        )
    return limits(budget, cores=cores, physical_cores=physical_cores, resamples=resamples, tolerance=tolerance)
