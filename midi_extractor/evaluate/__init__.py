"""Evaluation: mir_eval scoring of a model on an index split (``scoring``) and the metrics
table (``report``)."""
