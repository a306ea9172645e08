"""Hyper-parameter search: pure search-space logic here, testable without TensorFlow."""
