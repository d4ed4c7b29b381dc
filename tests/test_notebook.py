"""The notebook runs top to bottom through the package's loader, on a committed core-bound sweep."""

from .conftest import ROOT


def execute_notebook(experiment, monkeypatch) -> tuple[str, str]:
    """Run the notebook on ``experiment``; return what it printed and the Markdown it displayed."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PARALLEL_TUNE_EXPERIMENT", str(experiment))
    nb = nbformat.read(ROOT / "notebooks" / "scaling_analysis.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    markdown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1, "the dashboard is drawn"
    return text, markdown


def test_the_notebook_shows_the_verdicts_on_a_committed_core_bound_sweep(monkeypatch):
    experiment = ROOT / "benchmarks" / "results" / "runners_only_oversubscribed_2core"
    text, markdown = execute_notebook(experiment, monkeypatch)
    assert "{'points': 1} | left out (processes outnumber the cores): ['3r x 1e']" in text, "no fit over one width"
    assert "- **3r x 1e** (`cpu_cores`): Its processes reserving 4 CPUs share 2 cores" in markdown
    assert "- **2r x 1e** (`mixed`): Two parts lose about as much" in markdown
    assert "| original study |" in markdown or "original study" in markdown
