# Stage: crystals (see workflow/concept_geometry/crystals/).


def crystals_targets():
    """Final outputs of the crystals stage."""
    return []
