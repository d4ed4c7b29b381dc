"""Learning metrics on tables small enough to compute by hand: IQM, the stratified bootstrap, P(improvement),
final returns, time to a target, and the verdicts."""

import numpy as np
import pandas as pd
import pytest

from parallel_tune.analysis import learning


def test_iqm_is_the_mean_of_the_middle_half():
    # 8 runs, sorted -50, 1, 2, 3, 4, 5, 6, 100: int(8 / 4) = 2 cut from each end, the mean of 2, 3, 4, 5.
    assert learning.iqm([100, 1, 3, 4, 5, 6, 2, -50]) == pytest.approx(3.5)
    # 5 runs: 1 cut from each end (scipy.stats.trim_mean(x, 0.25) cuts int(0.25 * 5) = 1).
    assert learning.iqm([10, 20, 30, 40, 1000]) == pytest.approx(30)
    assert learning.iqm([7.0]) == 7.0 and np.isnan(learning.iqm([]))


def test_probability_of_improvement_counts_pairs_and_half_the_ties():
    # x = [1, 3], y = [2, 3]: pairs (1,2) no, (1,3) no, (3,2) yes, (3,3) tie -> (1 + 0.5) / 4.
    assert learning.probability_of_improvement([1, 3], [2, 3]) == pytest.approx(0.375)
    assert learning.probability_of_improvement([5, 6], [1, 2]) == 1.0
    assert learning.probability_of_improvement([1, 2], [1, 2]) == 0.5


def test_the_stratified_bootstrap_resamples_each_stratum_within_itself():
    # A constant stratum contributes no spread: the interval of a difference is the other stratum's alone.
    low, high = learning.stratified_bootstrap_ci(
        [np.array([10.0, 10.0, 10.0]), np.array([1.0, 2.0, 3.0])], lambda a, b: a.mean() - b.mean()
    )
    assert 7.0 <= low < 8.0 < high <= 9.0
    # Resampled within strata, never across: a mean of a 0-stratum and a 100-stratum stays 0 and 100.
    lows = learning.stratified_bootstrap_ci([np.zeros(4), np.full(4, 100.0)], lambda a, b: b.min() - a.max())
    assert lows == (100.0, 100.0)
    assert all(np.isnan(learning.stratified_bootstrap_ci([np.array([1.0])], learning.iqm)))


def run(name, seed, returns, steps=1000.0, time=1.0, trial_id=None):
    return pd.DataFrame(
        {
            "trial_id": trial_id or f"{name}-{seed}",
            "trial_name": name,
            "label": name,
            "seed": seed,
            "iteration": range(1, len(returns) + 1),
            "time_this_iter_s": time,
            "env_steps_sampled": steps,
            "env_steps_sampled_lifetime": [steps * (i + 1) for i in range(len(returns))],
            "episode_return_mean": returns,
        }
    )


def test_the_final_return_is_the_mean_over_the_last_quarter_of_env_steps():
    # 8 iterations of 1,000 steps: the last quarter is steps >= 6,000, iterations 6, 7 and 8.
    finals = learning.final_returns(run("a", 0, [0, 10, 20, 30, 40, 50, 60, 70]))
    assert finals["final_return"].iloc[0] == pytest.approx(60) and finals["env_steps"].iloc[0] == 8000


def test_steps_and_time_to_a_target_are_at_the_first_iteration_that_reaches_it():
    both = pd.concat([run("a", 0, [0, 50, 120, 90], time=2.0), run("a", 1000, [0, 10, 20, 30])])
    hit = learning.to_target(both, 100).set_index("seed")
    assert hit.loc[0, "env_steps_to_target"] == 3000 and hit.loc[0, "time_to_target_s"] == 6.0
    assert np.isnan(hit.loc[1000, "env_steps_to_target"]), "never reached"


def runs(name, finals):
    """One run per final return, flat at that return (so its final return is exactly it)."""
    return pd.concat([run(name, 1000 * i, [f] * 4) for i, f in enumerate(finals)])


@pytest.mark.parametrize(
    "theirs, verdict",
    [
        ([100, 101, 99, 100, 100], "as well"),  # within +-10 % of the baseline's IQM of 100
        ([200, 210, 190, 205, 195], "better"),
        ([20, 25, 15, 22, 18], "worse"),
        ([40, 160, 100, 60, 140], "cannot tell"),  # spread too wide for 5 seeds to tell
    ],
)
def test_the_verdict_reads_the_interval_of_the_difference(theirs, verdict):
    table = pd.concat([runs("base", [100, 102, 98, 101, 99]), runs("other", theirs)])
    out = learning.learning(table, baseline="base", target_return=150).set_index("trial_name")
    assert out.loc["base", "verdict"] == "baseline" and out.loc["other", "verdict"] == verdict
    assert out.loc["other", "runs"] == 5
    assert out.loc["other", "final_return_iqm"] == pytest.approx(learning.iqm(theirs))
    assert out.loc["other", "p_as_good"] == pytest.approx(
        learning.probability_of_improvement(theirs, [100, 102, 98, 101, 99])
    )
    if verdict == "cannot tell":
        assert out.loc["other", "seeds_needed"] > 5, "more seeds than it had"
    if verdict == "better":
        assert out.loc["other", "reached"] == "5/5" and out.loc["base", "reached"] == "0/5"


def test_curves_average_a_configs_runs_on_a_common_grid():
    table = pd.concat([run("a", 0, [0, 10, 20, 30]), run("a", 1000, [10, 20, 30, 40])])
    curve = learning.curves(table, points=4)
    assert list(curve["env_steps"]) == [1000, 2000, 3000, 4000]
    assert list(curve["return_mean"]) == [5, 15, 25, 35] and list(curve["return_low"]) == [0, 10, 20, 30]
    assert (curve["runs"] == 2).all()
    assert learning.learning(table.assign(episode_return_mean=np.nan), baseline="a").empty, "no episode ended"


def test_the_committed_learning_check_pools_five_seeds_and_reads_every_section():
    # benchmarks/results/learning_2core: envs_only at 1, 4 and 16 envs per runner, 5 seeds each, 300,000 env steps.
    from parallel_tune.analysis import findings, report
    from parallel_tune.analysis.load import load

    from ..conftest import ROOT

    experiment = load(ROOT / "benchmarks" / "results" / "learning_2core")
    assert len(experiment.trials) == 15 and sorted(set(experiment.trials["seed"])) == [0, 1000, 2000, 3000, 4000]
    found = findings.of(experiment)
    assert len(found.scaled) == 3 and (found.scaled["replicates"] == 5).all()
    table = found.learning.set_index("trial_name")
    assert (table["runs"] == 5).all() and (table["verdict"] == "baseline").sum() == 1
    # What the README states: at this budget 5 seeds cannot tell the faster configs from the baseline, and say
    # how many would; every interval of the difference straddles 0 and is wider than the +-10 % band.
    others = table[table["verdict"] != "baseline"]
    assert (others["verdict"] == "cannot tell").all() and (others["seeds_needed"] > 5).all()
    assert ((others["diff_iqm_ci_low"] < 0) & (others["diff_iqm_ci_high"] > 0)).all()
    assert ((others["p_as_good_ci_low"] < 0.5) & (others["p_as_good_ci_high"] > 0.5)).all()
    text = report.render_markdown(found, experiment.record)
    assert "## Learning: does the faster config learn as well? (5 seeds per config)" in text
    assert "Fastest that learns as well as the baseline:** 1r x 1e (the baseline" in text
    curves = found.curves["env_steps"]
    assert set(curves["runs"]) == {5} and curves["label"].nunique() == 3
    assert found.curves["train_s"].groupby("label")["train_s"].max().idxmin() == "1r x 16e", "done soonest"


def test_the_dashboard_of_a_learning_check_adds_a_row_of_learning_curves(tmp_path):
    import matplotlib.image

    from parallel_tune.analysis import dashboard, findings
    from parallel_tune.analysis.load import load

    from ..conftest import ROOT

    results = ROOT / "benchmarks" / "results"
    heights = {
        name: matplotlib.image.imread(
            dashboard.dashboard(findings.of(load(results / name)), path=tmp_path / f"{name}.png", title=name)
        ).shape[0]
        for name in ("learning_2core", "envs_only_2core")
    }
    assert heights["learning_2core"] > 1.15 * heights["envs_only_2core"]


def test_compare_overlays_the_learning_curves_of_a_learning_check(tmp_path):
    import matplotlib.image

    from parallel_tune import compare

    from ..conftest import ROOT

    results = ROOT / "benchmarks" / "results"
    table, _, sides = compare.compare([results / "learning_2core", results / "envs_only_2core"])
    assert not sides[0].curves.empty and sides[1].curves.empty, "only the learning check has curves"
    wide = matplotlib.image.imread(compare.figure(table, sides, tmp_path / "with.png")).shape[1]
    plain = matplotlib.image.imread(compare.figure(table, sides[1:], tmp_path / "without.png")).shape[1]
    assert wide > 1.3 * plain, "a third panel: the learning curves"
