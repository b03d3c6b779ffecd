# concept-geometry: reproduce, check and extend Jiang et al. 2024 and Li et al. 2024.
# The Snakefile is a table of contents; every stage lives in workflow/rules/.
from snakemake.utils import min_version

min_version("9.0")


# The default preset, found from any --directory; --configfile files are merged over it.
configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/alignment.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/crystals.smk"
include: "workflow/rules/lobes.smk"
include: "workflow/rules/galaxy.smk"
include: "workflow/rules/report.smk"


# Every enabled stage's final outputs: each stage's `<stage>_targets()`, built from its rules'
# outputs (common.smk's all_targets).
rule all:
    default_target: True
    input:
        all_targets(),
