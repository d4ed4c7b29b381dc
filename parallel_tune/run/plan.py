"""The trials a space asks for, what each reserves, and which fit the cluster.

Tune leaves a trial whose placement group cannot fit PENDING forever without
a word, so every config is checked against the nodes before anything runs;
one that cannot fit is skipped with the reason (or, with ``--strict``, the
sweep is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from parallel_tune.core.errors import UsageError
from parallel_tune.core.files import trial_name
from parallel_tune.core.record import ExperimentRecord, PlannedConfig
from parallel_tune.core.spaces import SearchSpace
from parallel_tune.run.placement import Bundle, total, why_unschedulable


class PlanError(UsageError):
    """Nothing (or, with ``--strict``, not everything) of the space fits the cluster."""


@dataclass
class PlannedTrial:
    """One grid point with its placement group; ``skip_reason`` says why it cannot run here, ``hint`` how it
    could run anyway (where it only lacks logical CPUs)."""

    config: dict[str, Any]
    cpus: float
    gpus: float
    bundles: tuple[Bundle, ...] = ()
    skip_reason: str | None = None
    hint: str | None = None
    algorithm: str = "PPO"

    @property
    def name(self) -> str:
        return trial_name(self.config, list(self.config), self.algorithm)


@dataclass
class Plan:
    space: SearchSpace
    nodes: list[Bundle]
    trials: list[PlannedTrial] = field(default_factory=list)

    @property
    def runnable(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.skip_reason is None]

    @property
    def skipped(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.skip_reason is not None]

    @classmethod
    def from_record(cls, record: ExperimentRecord, nodes: list[Bundle]) -> Plan:
        """The plan as it was made; a resumed run is judged against it, not re-planned."""
        algorithm = record.space.algorithm
        trials = [PlannedTrial(p.config, p.cpus, p.gpus, (), p.skip_reason, p.hint, algorithm) for p in record.plan]
        return cls(space=record.space, nodes=nodes, trials=trials)

    def to_record(self) -> list[PlannedConfig]:
        """Every config as the experiment record keeps it (its bundles are RLlib's, rebuilt from the config)."""
        return [PlannedConfig(t.config, t.cpus, t.gpus, t.skip_reason, t.hint) for t in self.trials]

    def sampling_widths(self) -> list[int]:
        """How many processes sample in the runnable configs: the widths the ceiling measures."""
        return self.space.sampling_widths([t.config for t in self.runnable])

    def describe(self) -> str:
        have = total(self.nodes)
        lines = [
            f"space {self.space.name}: {len(self.trials)} configs, {self.space.iterations} iterations each "
            f"({self.space.warmup_iterations} warm-up), env {self.space.env}",
            f"cluster: {len(self.nodes)} node(s), {have.get('CPU', 0.0):g} CPUs, {have.get('GPU', 0.0):g} GPUs; "
            f"placement {self.space.placement_strategy}",
        ]
        width = max((len(t.name) for t in self.trials), default=0)
        for i, t in enumerate(self.trials, 1):
            status = "run" if t.skip_reason is None else f"SKIP: {t.skip_reason}"
            lines.append(f"  {i:>2}. {t.name:<{width}}  {t.cpus:>4g} CPU {t.gpus:>3g} GPU  {status}")
        hinted = [t for t in self.skipped if t.hint]
        if hinted:
            lines.append(
                f"{len(hinted)} of the skipped configs lack only CPUs; to run them anyway: --num-cpus "
                f"{max(t.cpus for t in hinted):g} (more processes than cores: the report marks them core-bound "
                "instead of drawing scaling conclusions from them)"
            )
        return "\n".join(lines)

    def check(self, *, strict: bool) -> None:
        """Refuse a plan with nothing to run, or (``strict``) with anything skipped."""
        if self.skipped and strict:
            first = self.skipped[0]
            raise PlanError(
                f"{len(self.skipped)} config(s) cannot fit this cluster (--strict): {first.name} {first.skip_reason}"
            )
        if not self.runnable:
            raise PlanError("no config of this space fits this cluster; see the SKIP lines above")

    def runnable_space(self) -> SearchSpace:
        """The space restricted to the configs that fit; it must stay a grid for Tune."""
        if not self.skipped:
            return self.space
        grid = {
            k: [v for v in vals if any(t.config[k] == v for t in self.runnable)] for k, vals in self.space.grid.items()
        }
        restricted = replace(self.space, grid=grid)
        if len(restricted.configs()) != len(self.runnable):
            raise PlanError(
                "the configs that fit this cluster do not form a grid; narrow the space "
                "(e.g. --runners) so every remaining combination fits"
            )
        return restricted


def build(space: SearchSpace, nodes: list[Bundle], *, local: bool = True, user=None) -> Plan:
    """Every config with the placement group RLlib will ask for and, where it cannot fit, why.

    On a local Ray, a config short of CPUs alone can still run when Ray is told
    of more logical CPUs than there are cores; its skip reason says how, and
    that the report then judges it against the real cores. ``user``: the
    ``run.user.UserConfig`` every trial starts from, if any.
    """
    from parallel_tune.run.trial import reservation

    result = Plan(space=space, nodes=nodes)
    for point in space.configs():
        res = reservation(space, point, user)
        reason = why_unschedulable(res.bundles, res.strategy, nodes)
        hint = None
        if reason and local and _cpus_alone_short(res.bundles, res.strategy, nodes, res.cpus):
            hint = (
                f"to run it anyway: --num-cpus {res.cpus:g} (more processes than cores: the report marks it "
                "core-bound instead of drawing scaling conclusions from it)"
            )
        result.trials.append(PlannedTrial(point, res.cpus, res.gpus, res.bundles, reason, hint, space.algorithm))
    return result


def _cpus_alone_short(bundles, strategy: str, nodes: list[Bundle], cpus: float) -> bool:
    return len(nodes) == 1 and why_unschedulable(bundles, strategy, [{**nodes[0], "CPU": cpus}]) is None
