# Stage report: paths (declared once), input functions and final targets of the rules
# in report.smk, which includes this file first.

SUMMARY_TABLE = (
    "results/summary/{stage}.tsv"  # each stage's summary rule writes its own
)


def report_targets():
    """Final outputs of the report stage."""
    return [*rules.summary.output]
