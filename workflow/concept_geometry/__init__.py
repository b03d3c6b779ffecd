"""concept-geometry: reproduce, check and extend Jiang et al. 2024 and Li et al. 2024.

Pure, tested functions live in the sub-packages (one per workflow stage); the Snakemake
scripts in ``workflow/scripts`` only read inputs, call them and write outputs.
"""

__version__ = "0.1.0"
