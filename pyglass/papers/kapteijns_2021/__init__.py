"""Paper 2: Kapteijns et al., J. Chem. Phys. 155, 074502 (2021): mesoscopic elasticity, dipole
stiffness and landscape granularity.

The folder holds the study deck(s), criteria.toml (the rows a report is scored by, committed before
the run) and analysis.py (the analysis and figures); see pyglass.workflow.reproduce.paper."""
from pyglass.papers.kapteijns_2021 import analysis
from pyglass.workflow.reproduce.paper import register_paper

PAPER = register_paper(analysis, __file__)
