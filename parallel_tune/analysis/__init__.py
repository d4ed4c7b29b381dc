"""The wing that analyses sweeps: plain pandas over what a sweep wrote, no Ray.

``load`` is the only path from an experiment directory to DataFrames (older
formats are migrated there); ``table`` joins them into the one per-config
table; ``metrics`` and ``diagnosis`` are pure functions over it; ``findings``
gathers them for one experiment; ``report`` writes Markdown and ``dashboard``
draws. Never imports ``parallel_tune.run``.
"""
