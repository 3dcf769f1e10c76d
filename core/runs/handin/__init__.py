"""The hand-in `tblab report` writes: runs (before and after the doctor's fix), figures,
per-script sections, and the notebook / Markdown they are written to.

    attempts.py  the runs: scenarios and watched scripts through one process pool
    choose.py    which fix repaired a run, and the other fixes that also work
    names.py     the script's own names for tblab's layers, in text
    evidence.py  the numbers a section quotes, from a History
    diff.py      the change a fix stands for, as a unified diff of the learner's file
    figures.py   matplotlib (Agg) figures: curves, gradient ladder, units, inputs
    images.py    the input images a run logged, read back from its event files
    sections.py  the Markdown of the summary table and of each section
    notebook.py  DIR/report.ipynb and DIR/report.md
    labfile.py   the lab's hand-in file: before/after pairs kept under the log root
"""
