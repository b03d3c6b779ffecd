"""Lobes (Li et al. 2024, Sec. 4, "brain" scale): spectral clusters of SAE features by
document co-occurrence, compared with the geometry of their decoder directions.

Modules: ``affinity`` (five co-occurrence measures, angular affinity), ``clustering``
(spectral clustering, dense or kNN-sparsified), ``significance`` (AMI permutation test,
logistic-regression probe vs random unit vectors; faithful and corrected variants),
``specialization`` (which lobe wins each chunk, per category), ``pipeline`` (tables),
``plots`` (Figs. 2-5), ``config`` (cross-field checks).
"""

from .affinity import MEASURES, cooccurrence_affinity, geometric_affinity, phi_coefficient
from .config import check_lobes_config

__all__ = [
    "MEASURES",
    "cooccurrence_affinity",
    "geometric_affinity",
    "phi_coefficient",
    "check_lobes_config",
]
