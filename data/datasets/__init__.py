"""Drop-in datasets: one module per dataset, named as its `conf/dataset/<name>.yaml`, defining
`SOURCE` (a `data.sources.Source`) and, when the dataset has config keys of its own, the schema
that `SOURCE.schema` names. `data/__init__.py` finds and registers them; nothing else to edit.
"""
