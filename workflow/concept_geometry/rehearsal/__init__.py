"""Rehearse the paper preset offline: checkpoints, SAEs and a corpus of the papers' true
shapes and formats with random weights (README "Rehearsal"), and the config keys that point
at them.

``python -m concept_geometry.rehearsal build DIR`` writes them; ``config/rehearsal.yaml``
(merged over ``config/paper.yaml``) runs the paper DAG on them. See README.md, "Rehearsal".
"""

from .build import PARTS, build, config_paths, layout
from .sizes import ALL_GALAXY_LAYERS, TRUE, RehearsalSizes, tiny

__all__ = [
    "ALL_GALAXY_LAYERS",
    "PARTS",
    "TRUE",
    "RehearsalSizes",
    "build",
    "config_paths",
    "layout",
    "tiny",
]
