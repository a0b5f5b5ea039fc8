"""Paper 4: machine-learned softness and the time-reversible softness (TRSP) lattice model.

The folder holds the study deck(s), criteria.toml (the rows a report is scored by, committed before
the run) and analysis.py (the analysis and figures); see pyglass.workflow.reproduce.paper."""
from pyglass.papers.trsp import analysis
from pyglass.workflow.reproduce.paper import register_paper

PAPER = register_paper(analysis, __file__)
