"""Configuration: the YAML config groups Hydra composes, and their typed schemas (`schema.py`)."""
