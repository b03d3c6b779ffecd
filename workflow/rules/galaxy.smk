# Stage: galaxy (see workflow/concept_geometry/galaxy/).


def galaxy_targets():
    """Final outputs of the galaxy stage."""
    return []
