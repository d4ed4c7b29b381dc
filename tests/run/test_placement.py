from parallel_tune.run.placement import why_unschedulable

MAIN, RUNNER = {"CPU": 1.0}, {"CPU": 1.0}


def test_one_runner_fits_two_cores_two_do_not():
    two_cores = [{"CPU": 2.0, "GPU": 0.0}]
    assert why_unschedulable([MAIN, RUNNER], "PACK", two_cores) is None
    reason = why_unschedulable([MAIN, RUNNER, RUNNER], "PACK", two_cores)
    assert reason == "needs 3 CPU, the cluster has 2 CPU"


def test_gpu_request_without_gpu():
    reason = why_unschedulable([MAIN, RUNNER, {"CPU": 1.0, "GPU": 1.0}], "PACK", [{"CPU": 16.0, "GPU": 0.0}])
    assert "1 GPU" in reason and "0 GPU" in reason


def test_strict_pack_needs_one_node_big_enough():
    nodes = [{"CPU": 2.0}, {"CPU": 2.0}]
    bundles = [MAIN, RUNNER, RUNNER]
    assert why_unschedulable(bundles, "PACK", nodes) is None
    assert "one node" in why_unschedulable(bundles, "STRICT_PACK", nodes)


def test_bundle_larger_than_any_node():
    assert "fits on no node" in why_unschedulable([{"CPU": 3.0}], "SPREAD", [{"CPU": 2.0}, {"CPU": 2.0}])


def test_strict_spread_needs_a_node_per_bundle():
    assert "needs 3 nodes" in why_unschedulable([MAIN, RUNNER, RUNNER], "STRICT_SPREAD", [{"CPU": 8.0}, {"CPU": 8.0}])
