"""Hyper-parameter search: the Optuna sweeper, its search spaces, study storage, reports and `promote`.

Beside the stages in the layering: it launches training jobs through Hydra and reads run folders
(`runs/`), models and configs; nothing below imports it. The search-space logic is pure and
testable without TensorFlow.
"""
