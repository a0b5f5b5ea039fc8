"""pyglass: simulation and analysis of glass-forming liquids."""
__version__ = "0.1.0"
