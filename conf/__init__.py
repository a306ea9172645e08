"""Configuration: the YAML config groups Hydra composes, their typed schemas (`schema.py`), and the
error types a schema check raises (`errors.py`).

The bottom room: it imports nothing else of the project. Models and datasets push their own
schemas in (`schema.register_schema`) when their packages are imported.
"""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONF_DIR.parent
