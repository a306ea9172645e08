"""Datasets: where they come from (`sources`, which also registers each dataset's config schema,
and `datasets/`, one drop-in module per added dataset), how they are downloaded (`download`),
split and written once into `data/<name>/` as shards (`prepare`, `shards`), normalised
(`preprocessing`) and read by training (`pipeline`).

Beside `models/` in the layering: it imports only `conf/`, never models, runs or hpsearch.
"""

import importlib
import pkgutil

from data import datasets as _datasets
from data.sources import register_source

for _info in pkgutil.iter_modules(_datasets.__path__):
    register_source(_info.name, importlib.import_module(f"{_datasets.__name__}.{_info.name}").SOURCE)
