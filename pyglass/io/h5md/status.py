"""Reading a run's state back from its file: status, the deck it was made by."""
from __future__ import annotations

def file_status(f) -> str:
    """The run status in /h5md/provenance of an open file ('complete', 'interrupted', 'running'),
    '' when there is none. Decodes the fixed-length (bytes) strings H5MD 1.1 asks for."""
    prov = f.get("h5md/provenance")
    return _s(prov.attrs.get("status")) if prov is not None else ""


def stored_deck(path) -> str | None:
    """The deck text a run wrote into /h5md/provenance/deck of its file at `path` (None when the file
    cannot be read or holds none)."""
    from pyglass.io._common import FormatError
    from pyglass.io.safe_read import STUDY_LINKS, open_h5, read_text
    try:
        with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
            d = f.get("h5md/provenance/deck")
            return None if d is None else read_text(d, path)
    except (OSError, FormatError):
        return None


def path_status(path) -> str | None:
    """file_status of the file at `path`; None when it cannot be read (absent, or being written)."""
    from pyglass.io._common import FormatError
    from pyglass.io.safe_read import STUDY_LINKS, open_h5
    try:
        with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
            return file_status(f)
    except (OSError, FormatError):
        return None


def _s(v):
    if isinstance(v, bytes):
        return v.decode()
    return "" if v is None else str(v)
