# Stage: features (corpus -> model -> SAE features; see workflow/concept_geometry/activations/).


def features_targets():
    """Final outputs of the features (data) stage."""
    return []
