# Stage: simulation (see workflow/concept_geometry/simulation/).


def simulation_targets():
    """Final outputs of the simulation stage."""
    return []
