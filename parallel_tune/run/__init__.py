"""The wing that runs sweeps: every module here that must talk to Ray, and nothing that analyses.

``experiment`` starts or resumes a sweep as a Tune experiment over ``plan``
(which configs fit ``cluster``, by ``placement``), ``trial`` (the RLlib config
and placement group of one config), ``stopping`` (when a trial is measured
enough, and never running a finished one again), ``telemetry``, ``progress``,
``probe`` (where each bundle ran) and ``rawenv`` (the bare environment's
ceiling). Never imports ``parallel_tune.analysis``.
"""
