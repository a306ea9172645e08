"""Datasets: where they come from (`sources`, which also registers each dataset's config schema),
how they are downloaded (`download`), split and written once into `data/<name>/` (`prepare`), and
how training reads them (`pipeline`).

Beside `models/` in the layering: it imports only `conf/`, never models, runs or hpsearch.
"""
