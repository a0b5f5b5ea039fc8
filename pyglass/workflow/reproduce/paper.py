"""A paper as a plugin: one folder `pyglass/papers/<name>/` holding its deck(s), its criteria file
(`criteria.toml`, docs/reproductions/standard.md), its analysis and figures code, shipped as package
data and registered in `pyglass.registry.PAPERS` by its `__init__.py`:

    from pyglass.papers.widmer_cooper_2008 import analysis
    from pyglass.workflow.reproduce.paper import register_paper
    PAPER = register_paper(analysis, __file__)

The analysis module declares
    NAME, TITLE          the entry-point name (`pyglass reproduce NAME`) and the paper
    DECK, REDUCED, FULL  its study deck (a file in the folder) and the reduced / full-scale overrides
                         ({"system.n": 2000, "study.samples": 20, ...}), or
    PARTS                [(tag, deck file, reduced overrides, full overrides)] for several decks
    analyse(indexes, decks, out_dir, full) -> (quantities, figures, notes)
                         (one-deck papers: analyse(index, deck, out_dir, full))
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from pyglass.registry import PAPERS


@dataclass(frozen=True)
class Part:
    """One deck of a paper's study: its tag ("" for the main deck; the `--part` name otherwise), the
    deck file in the paper's folder and the reduced / full-scale overrides."""
    tag: str
    deck: str
    reduced: dict
    full: dict

    def overrides(self, full: bool) -> dict:
        return self.full if full else self.reduced


class Paper:
    """A registered paper: its analysis module and its folder (see the module docstring)."""

    def __init__(self, module, folder: str):
        self.module, self.folder = module, folder

    @property
    def name(self) -> str:
        return self.module.NAME

    @property
    def title(self) -> str:
        return self.module.TITLE

    @property
    def parts(self) -> list:
        """The paper's decks as Parts (read from the module each time: a test may replace them)."""
        m = self.module
        raw = getattr(m, "PARTS", None) or [("", m.DECK, m.REDUCED, m.FULL)]
        return [Part(*p) for p in raw]

    @property
    def multi_part(self) -> bool:
        return bool(getattr(self.module, "PARTS", None))

    def deck_path(self, part: Part) -> str:
        """The deck file of a part, inside the installed package."""
        return os.path.join(self.folder, part.deck)

    @property
    def criteria_path(self) -> str:
        return os.path.join(self.folder, "criteria.toml")

    def criteria(self):
        """The paper's Criteria (criteria.toml), or None while it has none."""
        from pyglass.workflow.reproduce.criteria import Criteria
        return Criteria.load(self.criteria_path) if os.path.exists(self.criteria_path) else None

    def analyse(self, indexes: dict, decks: dict, out_dir: str, full: bool):
        if self.multi_part:
            return self.module.analyse(indexes, decks, out_dir, full)
        return self.module.analyse(indexes[""], decks[""], out_dir, full)

    def __repr__(self):
        return f"Paper({self.name!r}, {self.folder!r})"


def register_paper(module, init_file: str) -> Paper:
    """Register the paper whose analysis is `module` and whose folder holds `init_file`."""
    paper = Paper(module, os.path.dirname(os.path.abspath(init_file)))
    PAPERS.register(paper.name, paper)
    return paper
