# Stage: alignment (see workflow/concept_geometry/alignment/).


def alignment_targets():
    """Final outputs of the alignment stage."""
    return []
