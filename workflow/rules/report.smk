# Stage: report (see workflow/concept_geometry/report/).


def report_targets():
    """Final outputs of the report stage."""
    return []
