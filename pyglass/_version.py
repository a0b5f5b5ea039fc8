"""The pyglass version: one place, read by the package, the files it writes, and setup.py."""
__version__ = "0.1.0"
