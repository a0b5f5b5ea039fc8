"""Paper 1: Widmer-Cooper, Perry, Harrowell & Reichman, Nat. Phys. 4, 711 (2008): soft modes of
inherent structures predict irreversible reorganisation.

The folder holds the study deck(s), criteria.toml (the rows a report is scored by, committed before
the run) and analysis.py (the analysis and figures); see pyglass.workflow.reproduce.paper."""
from pyglass.papers.widmer_cooper_2008 import analysis
from pyglass.workflow.reproduce.paper import register_paper

PAPER = register_paper(analysis, __file__)
