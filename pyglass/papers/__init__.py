"""The papers pyglass reproduces, one folder each (a plugin: see `pyglass.workflow.reproduce.paper`).

Every sub-package here registers its paper in `pyglass.registry.PAPERS` when imported; this module
imports them all, so adding a paper is adding a folder.
"""
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if _info.ispkg:
        importlib.import_module(f"{__name__}.{_info.name}")
