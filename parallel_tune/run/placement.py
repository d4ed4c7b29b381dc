"""Will a trial's placement group ever be scheduled on this cluster?

Tune leaves a trial whose placement group cannot fit PENDING forever without
a word (seen on a 2-core machine asking for 3 CPUs), so the sweep asks this
before launching anything. Pure: bundles and node resources in, verdict out.
"""

from __future__ import annotations

from collections.abc import Sequence

Bundle = dict[str, float]


def _fits(bundle: Bundle, free: Bundle) -> bool:
    return all(free.get(k, 0.0) + 1e-9 >= v for k, v in bundle.items())


def _take(bundle: Bundle, free: Bundle) -> None:
    for k, v in bundle.items():
        free[k] = free.get(k, 0.0) - v


def total(resources: Sequence[Bundle]) -> Bundle:
    """Resources summed over bundles or nodes: ``[{"CPU": 2}, {"CPU": 2, "GPU": 1}]`` -> 4 CPU, 1 GPU."""
    out: Bundle = {}
    for r in resources:
        for k, v in r.items():
            out[k] = out.get(k, 0.0) + float(v)
    return out


def why_unschedulable(bundles: Sequence[Bundle], strategy: str, nodes: Sequence[Bundle]) -> str | None:
    """``None`` if the bundles can be placed on an idle cluster, else the reason.

    ``nodes`` are the total resources of each alive node. Packing is first-fit
    with the largest bundles first; good enough for the few bundle shapes
    RLlib asks for (main, env runner, learner).
    """
    need, have = total(bundles), total(nodes)
    short = [k for k, v in need.items() if have.get(k, 0.0) + 1e-9 < v]
    if short:
        return "needs " + _fmt(need) + f", the cluster has {_fmt({k: have.get(k, 0.0) for k in need}, zeros=True)}"

    ordered = sorted(bundles, key=lambda b: -sum(b.values()))
    if strategy in ("STRICT_PACK",):
        if not any(_fits(need, dict(n)) for n in nodes):
            return f"needs {_fmt(need)} on one node (STRICT_PACK); no node has that much"
        return None
    if strategy == "STRICT_SPREAD" and len(bundles) > len(nodes):
        return f"STRICT_SPREAD needs {len(bundles)} nodes, the cluster has {len(nodes)}"
    free = [dict(n) for n in nodes]
    for b in ordered:
        node = next((f for f in free if _fits(b, f)), None)
        if node is None:
            return f"a bundle {_fmt(b)} fits on no node once the others are placed (needs {_fmt(need)})"
        _take(b, node)
    return None


def _fmt(resources: Bundle, zeros: bool = False) -> str:
    def num(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

    return ", ".join(f"{num(v)} {k}" for k, v in sorted(resources.items()) if v or zeros) or "nothing"
