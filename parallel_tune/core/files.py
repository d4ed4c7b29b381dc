"""The names of everything a sweep writes, in one place so that writer and reader agree.

::

    <storage>/<experiment>/
        parallel_tune.json              RECORD: the experiment record (parallel_tune.core.record)
        ceiling.parquet                 CEILING: the bare environment's step rate (--ceiling)
        ppo[num_env_runners=1,...]/     one Tune trial directory per config (trial_name; appo[...] for APPO)
            result.json                 RESULTS: Tune's results, one JSON line per iteration
            telemetry.parquet           TELEMETRY: hardware samples while it ran
        race.jsonl                      RACE: a race's order and decisions (--goal fastest; parallel_tune.core.race)
        resumes.jsonl                   RESUMES: when each --resume started (parallel_tune.core.record)
        drift/ppo[...]/                 DRIFT: the baseline (and a race's winner) again, at the end
        analysis/                       ANALYSIS_DIR: tables, report.md, dashboard.png
"""

from __future__ import annotations

from typing import Any

RECORD = "parallel_tune.json"
CEILING = "ceiling.parquet"
#: JSON Lines logs (``parallel_tune.core.jsonlines`` says why not .json).
RACE = "race.jsonl"
RESUMES = "resumes.jsonl"
RESULTS = "result.json"  # Tune's JsonLoggerCallback
TELEMETRY = "telemetry.parquet"
ANALYSIS_DIR = "analysis"
DRIFT = "drift"  # a Tune experiment of its own: the baseline re-measured at the end of the sweep
REPORT = "report.md"
DASHBOARD = "dashboard.png"
TUNE_STATE_GLOB = "experiment_state-*.json"  # what makes a directory a Tune experiment


def table(name: str) -> str:
    """``iterations`` -> ``iterations.parquet``: the analysis tables (iterations, trials, telemetry, summary, and
    learning after a learning check)."""
    return f"{name}.parquet"


def trial_name(config: dict[str, Any], keys: list[str], algorithm: str = "PPO") -> str:
    """``ppo[num_env_runners=4,num_envs_per_env_runner=2]`` (``appo[...]`` for APPO): directories, logs and
    rows line up."""
    return f"{algorithm.lower()}[" + ",".join(f"{k}={config[k]}" for k in keys) + "]"
