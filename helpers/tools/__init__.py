"""Instructor and maintainer tools: ``python -m helpers`` and what it runs.

The command line (``cli``), the headless runner and its report (``runner``,
``report``), the in-place executor that keeps committed outputs true
(``executor``), the student edition, notebook hygiene and the doctor. They may
import the course runtime and the learner's library; neither imports them.
"""
