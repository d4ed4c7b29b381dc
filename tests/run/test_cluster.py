"""Real multi-node Ray clusters on this one machine (raylets Ray treats as separate nodes).

Each cluster is started here with token authentication and a token of its own
(never ~/.ray's), the sweep joins it through ``--address`` as a separate
process, as a user would, and every cluster is shut down by the test that
started it (Ray's Cluster ends its processes by their ids).
"""

import json
import os
import socket
import time
import uuid
from contextlib import contextmanager

import pandas as pd
import pytest
import yaml

from parallel_tune.analysis.load import load_experiment, read_table

from ..conftest import ROOT, run_cli

pytestmark = pytest.mark.ray


@contextmanager
def token_cluster(tmp_path, head_cpus: int, *worker_cpus: int):
    """A Ray cluster of a head and workers with these CPUs, token authentication on, and the env its clients need."""
    from ray._private.authentication_test_utils import reset_auth_token_state  # Ray's own tests' helper
    from ray.cluster_utils import Cluster

    token = tmp_path / "auth_token"
    token.write_text(uuid.uuid4().hex)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    saved = {k: os.environ.get(k) for k in [*env, "RAY_AUTH_TOKEN"]}
    os.environ.update(env)
    os.environ.pop("RAY_AUTH_TOKEN", None)
    reset_auth_token_state()  # this process reads the mode and token once; make it read them again
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus, "include_dashboard": False})
        workers = [cluster.add_node(num_cpus=n) for n in worker_cpus]
        cluster.wait_for_nodes()
        yield cluster, workers, env
    finally:
        if cluster is not None:
            cluster.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_auth_token_state()


def space_file(tmp_path, **changes) -> str:
    space = yaml.safe_load((ROOT / "search_spaces" / "smoke.yaml").read_text())
    for key, value in changes.items():
        space[key] = value
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return str(path)


def test_a_spread_sweep_on_two_nodes_is_measured_and_judged_on_both(tmp_path):
    with token_cluster(tmp_path, 2, 2) as (cluster, _, env):
        space = space_file(tmp_path, placement_strategy="SPREAD", iterations=8)
        args = ["--space", space, "--runners", "1,3", "--envs-per-runner", "1", "--telemetry-interval", "0.25"]
        proc = run_cli(
            "parallel_tune.sweep",
            *args,
            "--address",
            cluster.address,
            "--storage-path",
            str(tmp_path),
            "--name",
            "x",
            env=env,
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cluster: 2 node(s), 4 CPUs" in proc.stdout
    experiment = load_experiment(tmp_path / "x")
    trials = experiment.trials.set_index("num_env_runners")
    wide = trials.loc[3]
    assert wide["nodes_used"] == 2, wide["placement"]
    entries = json.loads(wide["bundle_nodes"])
    assert [e["role"] for e in entries] == ["main", "runner 1", "runner 2", "runner 3"]
    per_node = pd.Series([e["node_id"] for e in entries]).value_counts()
    assert sorted(per_node) == [2, 2], "SPREAD puts two of the four 1-CPU bundles on each node"
    assert "on node" in wide["placement"] and wide["placement"].count("on node") == 2
    # Telemetry from both nodes of the 3-runner trial, each sample tagged with its node.
    tel = experiment.telemetry[experiment.telemetry["trial_name"] == wide["trial_name"]]
    assert tel["node_id"].nunique() == 2 and set(tel["node_id"]) == {e["node_id"] for e in entries}
    assert (tel["node_cores"] >= 1).all()
    for node, samples in tel.groupby("node_id"):  # both nodes are this machine, busy with the trial
        assert len(samples) >= 3 and samples["cpu_util_pct"].max() > 20, (node, samples["cpu_util_pct"].tolist())
    # The provenance records both nodes, and the hardware is judged against the cluster, not the driver.
    nodes = experiment.record.cluster["nodes"]
    assert len(nodes) == 2 and all(n["logical_cores"] >= 1 for n in nodes)
    report = (tmp_path / "x" / "analysis" / "report.md").read_text()
    assert "## Where each trial ran" in report and "3r x 1e: " in report and "Ray cluster of 2 nodes" in report
    assert "wanted 4 CPUs" not in report and "limited by the CPU cores" not in report
    assert "Per node (busy cores against that node's cores)" in report
    summary = read_table(tmp_path / "x" / "analysis" / "summary.parquet")[0]
    assert "cpu_cores" not in set(summary["limited_by"]), "4 CPUs on a 2 + 2-core cluster fit"


def test_a_lost_node_fails_its_trial_the_sweep_goes_on_and_resume_finishes_it(tmp_path):
    # 2 runners STRICT_PACK need 3 CPUs on one node: only the worker has them. Losing it kills the trial;
    # the 0-runner config (1 CPU, the main process samples) then runs on the head.
    space = space_file(tmp_path, placement_strategy="STRICT_PACK", iterations=30, checkpoint_frequency=0)
    args = ["--space", space, "--runners", "2,0", "--envs-per-runner", "1", "--storage-path", str(tmp_path)]
    with token_cluster(tmp_path, 1, 3) as (cluster, workers, env):
        import subprocess
        import sys

        proc = subprocess.Popen(
            [sys.executable, "-m", "parallel_tune.sweep", *args, "--address", cluster.address, "--name", "x"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        )
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "[trial 1/2]" in line and "iter 3/30" in line:
                cluster.remove_node(workers[0], allow_graceful=False)
                break
        out, _ = proc.communicate(timeout=300)
        output = "".join(lines) + out
        assert proc.returncode == 1, output[-3000:]
        assert "1 finished, 1 failed" in output and "nodes that left the cluster during the sweep: node" in output
        trials = load_experiment(tmp_path / "x").trials.set_index("num_env_runners")
        assert trials.loc[2, "status"] == "ERROR" and trials.loc[2, "error"], trials[["status", "error"]]
        assert trials.loc[0, "status"] == "TERMINATED" and trials.loc[0, "iterations_completed"] == 30

        cluster.add_node(num_cpus=3)
        cluster.wait_for_nodes()
        resumed = run_cli(
            "parallel_tune.sweep",
            "--resume",
            str(tmp_path / "x"),
            "--retry-errored",
            "--address",
            cluster.address,
            env=env,
        )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    trials = load_experiment(tmp_path / "x").trials
    assert (trials["status"] == "TERMINATED").all() and (trials["iterations_completed"] == 30).all()


def test_an_address_where_nothing_listens_is_one_line_within_30_s():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    t0 = time.monotonic()
    proc = run_cli("parallel_tune.sweep", "--space", "smoke", "--address", f"127.0.0.1:{port}", "--dry-run", timeout=60)
    assert time.monotonic() - t0 < 30
    assert proc.returncode == 2 and proc.stderr.startswith("error: no Ray cluster answers at"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_a_refused_token_is_one_line_within_30_s(tmp_path):
    with token_cluster(tmp_path, 1) as (cluster, _, env):
        wrong = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "not-the-cluster-token", "RAY_AUTH_TOKEN_PATH": ""}
        t0 = time.monotonic()
        proc = run_cli(
            "parallel_tune.sweep", "--space", "smoke", "--address", cluster.address, "--dry-run", env=wrong, timeout=60
        )
        elapsed = time.monotonic() - t0
    assert elapsed < 30, elapsed
    assert proc.returncode == 2 and "refused this client's authentication token" in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_ray_address_alone_joins_the_cluster_as_ray_job_submit_sets_it(tmp_path):
    # `ray job submit` runs the driver with RAY_ADDRESS set and no --address: the plan must be the cluster's.
    with token_cluster(tmp_path, 2, 2) as (cluster, _, env):
        args = ["--space", "runners_only", "--runners", "1,3", "--envs-per-runner", "1", "--dry-run"]
        proc = run_cli("parallel_tune.sweep", *args, env={**env, "RAY_ADDRESS": cluster.address}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cluster: 2 node(s), 4 CPUs" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if "ppo[" in line]
    assert len(lines) == 2 and not any("SKIP" in line for line in lines), "3 runners (4 CPUs) fit the two nodes"
