"""A trial's own results: lines cut short by a kill, and iterations a restore ran again."""

import json

import pandas as pd

from parallel_tune.core import trial_results
from parallel_tune.core.files import RESULTS


def write(trial_dir, rows, tail=""):
    trial_dir.mkdir(exist_ok=True)
    (trial_dir / RESULTS).write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def row(i, t, since=None, **more):
    return {"training_iteration": i, "time_this_iter_s": t, "iterations_since_restore": since or i, **more}


def test_results_are_flattened_as_tune_flattens_them(tmp_path):
    write(tmp_path, [row(1, 2.0, env_runners={"num_env_steps_sampled": 256})])
    rows, problem = trial_results.read(tmp_path)
    assert problem == "" and rows["env_runners/num_env_steps_sampled"].tolist() == [256]


def test_a_line_cut_short_is_dropped_and_said(tmp_path):
    write(tmp_path, [row(1, 2.0), row(2, 1.0)], tail='{"training_iteration": 3, "time_th')
    rows, problem = trial_results.read(tmp_path)
    assert rows["training_iteration"].tolist() == [1, 2] and "1 unreadable line(s)" in problem


def test_no_results_is_a_problem_not_an_error(tmp_path):
    rows, problem = trial_results.read(tmp_path / "absent")
    assert rows.empty and "no result.json" in problem
    assert trial_results.timings(tmp_path / "absent").empty


def test_the_first_complete_run_of_an_iteration_is_the_measurement(tmp_path):
    # Iteration 3's result was written, the checkpoint of iteration 2 restored: 3 ran again, then 4.
    write(tmp_path, [row(1, 9.0), row(2, 1.0), row(3, 1.1), row(3, 7.0, since=1), row(4, 1.2, since=2)])
    kept, rerun = trial_results.first_runs(trial_results.read(tmp_path)[0])
    assert kept["time_this_iter_s"].tolist() == [9.0, 1.0, 1.1, 1.2] and rerun == 1
    timings = trial_results.timings(tmp_path)
    assert timings[["iteration", "time_this_iter_s", "iterations_since_restore"]].to_dict("list") == {
        "iteration": [1, 2, 3, 4],
        "time_this_iter_s": [9.0, 1.0, 1.1, 1.2],
        "iterations_since_restore": [1, 2, 3, 2],
    }


def test_an_asynchronous_iteration_that_closed_before_its_runners_reported_counts_the_lifetime_growth(tmp_path):
    # APPO: iteration 2's env runner metrics had not arrived; the algorithm's lifetime count grew by 1,850.
    write(
        tmp_path,
        [
            row(1, 2.0, num_env_steps_sampled_lifetime=800, env_runners={"num_env_steps_sampled": 800}),
            row(2, 2.0, num_env_steps_sampled_lifetime=2650),
            row(3, 2.0, num_env_steps_sampled_lifetime=4450, env_runners={"num_env_steps_sampled": 1800}),
        ],
    )
    assert trial_results.timings(tmp_path)["env_steps_sampled"].tolist() == [800, 1850, 1800]
    empty, dropped = trial_results.first_runs(pd.DataFrame())
    assert empty.empty and dropped == 0
