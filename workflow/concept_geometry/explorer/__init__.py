"""Offline, self-contained HTML explorers of the feature geometry.

``layer_explorer_data`` gathers one layer's features (2-D map, lobes under every measure, k and
variant, firing frequency, category histogram, top-activating contexts, lobe summaries) into
plain JSON-able data; ``render_layer_explorer`` writes it into one HTML page (plain JS and
canvas, no network) that opens from a file:// URL.
"""

from .crystals import crystals_explorer_page
from .galaxy import decoder_cloud_2d, galaxy_explorer_page
from .layer import (
    category_counts,
    display_tokens,
    layer_explorer_data,
    layer_explorer_page,
    render_layer_explorer,
)

__all__ = [
    "crystals_explorer_page",
    "decoder_cloud_2d",
    "galaxy_explorer_page",
    "category_counts",
    "display_tokens",
    "layer_explorer_data",
    "layer_explorer_page",
    "render_layer_explorer",
]
