"""The ground floor: what both the run and the analysis wing need, importing nothing above it.

``spaces`` (what a sweep measures), ``record`` (the experiment's one JSON
record), ``files`` (every name a sweep writes), ``tables`` (column names and
Parquet with metadata), ``stats`` (intervals and the stopping rule),
``trial_results`` (a trial's own result file), ``machine`` (what produced a
result), ``legacy`` (names older experiments were pickled under), ``errors``.
"""
