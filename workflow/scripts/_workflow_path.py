"""Imported first by every script here: puts ``workflow/`` (the package's folder) on sys.path.

Snakemake runs a script with the script's own folder on ``sys.path``, so ``import
_workflow_path`` finds this module; the ``concept_geometry`` package sits one folder up, and
adding that folder lets conda environments run the scripts without installing the package.
The import sorter keeps this import first (``[tool.ruff.lint.isort]`` in pyproject.toml).
"""

import sys
from pathlib import Path

_WORKFLOW = str(Path(__file__).resolve().parent.parent)
if _WORKFLOW not in sys.path:
    sys.path.insert(0, _WORKFLOW)
