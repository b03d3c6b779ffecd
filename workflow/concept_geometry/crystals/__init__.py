"""Paper B (Li et al. 2024) atom scale: crystals (parallelograms / trapezoids) in relation
difference vectors, the distractor directions that hide them, and LDA.

Modules: ``relations`` (pair files, subsampling), ``residuals`` / ``differences`` (each word
alone through the model, last-token residual, difference vectors), ``geometry`` (PCA
distractors, LDA, silhouettes, k-means, parallelogram / trapezoid measures), ``analysis``
(every table of one layer), ``plots``, ``summary``, ``config`` (cross-field checks).
"""

from .config import check_crystals_config, crystals_model  # noqa: F401
