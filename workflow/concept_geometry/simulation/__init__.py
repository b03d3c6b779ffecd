"""Simulation study of Jiang et al. 2024 (§5.1): latent-concept model, training, metrics.

- ``dag``: random Bayesian networks over binary concepts, exact joint and conditionals.
- ``model``: the softmax(f(x)ᵀg(y)) model and its full-batch training.
- ``metrics``: steering-vector cosines, alignment, orthogonality.
- ``experiments``: the four experiments (full, incomplete contexts/concepts, dimension).
- ``plots``: the figures.
"""
