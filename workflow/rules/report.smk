# Stage: report (see workflow/concept_geometry/report/).
# One final rule joins every reported stage's results/summary/<stage>.tsv with the papers'
# numbers (config/paper_values.tsv) into results/summary.tsv; the rows with a paper number
# go to results/headline.tsv (labelled same model / cross-model / not computed). HTML views
# of both and of the glossary (every quantity's definition, from the registry of headline
# quantities, workflow/concept_geometry/registry.py) go into
# the Snakemake report (`snakemake --report results/report.html`), whose first page shows the
# headline table (workflow/report/workflow.rst includes results/report/headline.rst).


include: "report_io.smk"


rule summary:
    input:
        tables=expand(SUMMARY_TABLE, stage=SETTINGS.report.stages),
        paper_values=SETTINGS.report.paper_values,
    output:
        summary=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.tsv (download)"},
        ),
        html=report(
            "results/report/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "reproduced vs paper values"},
        ),
        headline=report(
            "results/headline.tsv",
            caption="../report/summary_headline.rst",
            category="Summary",
            labels={"table": "headline.tsv (download)"},
        ),
        headline_rst="results/report/headline.rst",
        glossary=report(
            "results/report/glossary.html",
            caption="../report/summary_glossary.rst",
            category="Summary",
            labels={"table": "glossary of quantities"},
        ),
    log:
        "logs/report/summary.log",
    benchmark:
        "results/benchmarks/report/summary.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    params:
        stages=list(SETTINGS.report.stages),
        cfg=lambda wc: SETTINGS.report.raw,
    script:
        "../scripts/summary.py"
