"""Paper 5: Sharma, Nandi & Bhattacharyya (2022): local softness from the mean-field caging potential.

The folder holds the study deck(s), criteria.toml (the rows a report is scored by, committed before
the run) and analysis.py (the analysis and figures); see pyglass.workflow.reproduce.paper."""
from pyglass.papers.sharma_2022 import analysis
from pyglass.workflow.reproduce.paper import register_paper

PAPER = register_paper(analysis, __file__)
