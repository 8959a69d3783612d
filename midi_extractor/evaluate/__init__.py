"""Evaluation of a stem's model (stage ``evaluate@<stem>``, command ``midi-extractor evaluate``).

``run`` (the entry point: thresholds on validation, then the test split), ``tracks`` (the
entries of a split, each track's reference notes, activations and scores), ``thresholds``
(the decoding sweep and ``decoding.json``), ``scoring`` (one track's mir_eval counts and
figures), ``intervals`` (pooled F1 with bootstrap intervals; the per-domain blocks),
``outputs`` (metrics dict, per-track CSV, closing line, flat names for MLflow), ``plots``
(piano rolls), ``mlflow_log`` (a new MLflow run per evaluation) and ``report`` (the
per-stem table of ``metrics/``)."""
