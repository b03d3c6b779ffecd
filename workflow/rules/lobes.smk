# Stage: lobes (see workflow/concept_geometry/lobes/).


def lobes_targets():
    """Final outputs of the lobes stage."""
    return []
