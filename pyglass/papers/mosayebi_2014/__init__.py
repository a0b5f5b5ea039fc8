"""Paper 3: Mosayebi, Ilg, Widmer-Cooper & Del Gado, PRL 112, 105503 (2014): soft modes and
non-affine displacements of sheared inherent structures.

The folder holds the study deck(s), criteria.toml (the rows a report is scored by, committed before
the run) and analysis.py (the analysis and figures); see pyglass.workflow.reproduce.paper."""
from pyglass.papers.mosayebi_2014 import analysis
from pyglass.workflow.reproduce.paper import register_paper

PAPER = register_paper(analysis, __file__)
