"""The dashboard, drawn from the findings alone, on committed real sweeps."""

import pytest

from parallel_tune.analysis import dashboard, findings
from parallel_tune.analysis.load import load

from ..conftest import ROOT

COMMITTED = sorted(p.parent.parent for p in (ROOT / "benchmarks" / "results").glob("*/analysis/iterations.parquet"))


@pytest.mark.parametrize("experiment", COMMITTED[:2], ids=[p.name for p in COMMITTED[:2]])
def test_the_dashboard_draws_every_panel(experiment, tmp_path):
    import matplotlib.image

    found = findings.of(load(experiment))
    path = dashboard.dashboard(found, path=tmp_path / "d.png", title=experiment.name)
    image = matplotlib.image.imread(path)
    assert path.stat().st_size > 20_000 and image.shape[0] > 1000 and image.shape[1] > 1500
    assert image[..., :3].std() > 0.05, "more than a blank canvas"
