"""Reading files that may come from strangers: one place for the checks every reader makes.

HDF5 (`open_h5`, `check_h5`): a file is opened read-only and walked link by link before anything
in it is read. Refused, each with a one-line error naming the file and the element:
  * external links (they open another file, anywhere on the machine), and user-defined links;
  * datasets with external raw storage (`external=`: their bytes live in another file) and
    virtual datasets (their bytes are mapped from other datasets, possibly in other files);
  * soft links that do not resolve inside the file (loops, dangling targets);
  * filters other than HDF5's built-in ones and h5py's LZF (an unknown filter id would make
    HDF5 search its plugin folders for code to load);
  * more than MAX_LINKS links, attributes declaring more than MAX_ATTRIBUTE_BYTES.
Pyglass's own study index links to its sample files; `info`, `plot` and the status readers open it
with `allow_external_links_under=STUDY_LINKS`, and never follow those links.

Memory (`check_declared`, `read_array`, `read_text`): a dataset's declared shape is compared with
what the reader expects (N rows, d columns), its size with the bytes the file stores for it (at
most MAX_EXPANSION times more: a small file declaring a huge chunked dataset, compressed or never
written, is refused) and with the memory budget (`memory_budget`: 80 % of the memory available,
`$PYGLASS_MEMORY_LIMIT_GIB` or MemAvailable, as the dry-run's estimates use), all before a byte of
it is read. Variable-length text is read element by element up to
a character limit.

Text files (`read_text_file`): refused above a size limit before being read; `nested_depth`
refuses JSON/TOML nested deeper than MAX_NESTING before the parser recurses.

Errors are raised as the caller's class: `FormatError(path, message)` for the file readers,
`RestartError(f"{path}: {message}")` for checkpoints (`error=`).
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from pyglass.io._common import FormatError

MAX_LINKS = 1_000_000
MAX_ATTRIBUTE_BYTES = 16 << 20
MAX_NESTING = 64
# deflate's largest compression ratio is about 1032:1; unwritten chunks store nothing at all
MAX_EXPANSION = 1100
# where a pyglass study index keeps its external links to the sample files (listed, never followed)
STUDY_LINKS = ("/pyglass/study/samples",)
# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit, scale-offset) and h5py's LZF,
# which h5py registers itself: none of them loads a plugin
SAFE_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})


def fail(error, path, message):
    """The caller's exception: FormatError-like classes take (path, message), others one string."""
    if isinstance(error, type) and issubclass(error, FormatError):
        return error(path, message)
    return error(f"{os.fspath(path)}: {message}")


def memory_budget() -> float:
    """Bytes a reader may allocate for one file: 80 % of the memory available (the dry-run's rule)."""
    from pyglass.engine.resources import available_memory
    return 0.8 * available_memory()


def _gib(nbytes) -> str:
    return f"{nbytes / 2 ** 30:.3g} GiB"


# ================================================================================ HDF5

def open_h5(path, error=FormatError, allow_external_links_under=()) -> h5py.File:
    """Open an HDF5 file read-only after `check_h5`; the caller closes it. Raises `error` for a
    file that is missing, not HDF5, or holds anything `check_h5` refuses."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise fail(error, path, "is a directory, not an HDF5 file")
    if not os.path.exists(path):
        raise fail(error, path, "file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise fail(error, path, f"not a readable HDF5 file ({_first_line(exc)})") from None
    try:
        check_h5(f, error, allow_external_links_under)
    except BaseException:
        f.close()
        raise
    return f


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_h5(f, error=FormatError, allow_external_links_under=()):
    """Walk every link of open file `f` (hard links recursively, each object once) and refuse what
    would make a reader leave the file or load code (see the module docstring)."""
    path = f.filename
    allowed = tuple(p.strip("/") + "/" for p in allow_external_links_under)
    names = []

    def visit(name, info):
        names.append((name, info.type))
        if len(names) > MAX_LINKS:
            return 1   # stops the walk
        return None

    try:
        f.id.links.visit(visit, info=True)
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        raise fail(error, path, f"damaged HDF5 link structure ({_first_line(exc)})") from None
    if len(names) > MAX_LINKS:
        raise fail(error, path, f"holds more than {MAX_LINKS} links; refused")
    _check_attributes(f["/"].id, "/", path, error)
    for raw, kind in names:
        name = raw.decode("utf-8", "replace")
        where = "/" + name
        if kind == h5py.h5l.TYPE_EXTERNAL:
            if allowed and where.lstrip("/").startswith(allowed):
                continue
            target = f.id.links.get_val(raw)
            raise fail(error, path, f"'{where}' is an external link (to {_decode(target[0])}:{_decode(target[1])}); "
                                    "pyglass reads nothing outside the file it is given")
        if kind == h5py.h5l.TYPE_SOFT:
            if allowed:
                raise fail(error, path, f"'{where}' is a soft link; refused in a file with external links")
            try:
                obj = h5py.h5o.open(f.id, raw)
            except (RuntimeError, KeyError, ValueError, OSError) as exc:
                target = _decode(f.id.links.get_val(raw))
                why = "a soft-link loop" if "too many links" in str(exc) else "its target does not exist"
                raise fail(error, path, f"soft link '{where}' -> '{target}' does not resolve ({why})") from None
            obj.close() if hasattr(obj, "close") else None
            continue
        if kind != h5py.h5l.TYPE_HARD:
            raise fail(error, path, f"'{where}' is a user-defined link (type {kind}); refused")
        try:
            oid = h5py.h5o.open(f.id, raw)
        except (RuntimeError, KeyError, ValueError, OSError) as exc:
            raise fail(error, path, f"'{where}' cannot be opened ({_first_line(exc)})") from None
        _check_attributes(oid, where, path, error)
        if isinstance(oid, h5py.h5d.DatasetID):
            _check_dataset(oid, where, path, error)


def _decode(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _check_dataset(dsid, where, path, error):
    plist = dsid.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise fail(error, path, f"dataset '{where}' is a virtual dataset (mapped from other datasets or files); "
                                "refused")
    if plist.get_external_count() > 0:
        name = _decode(plist.get_external(0)[0])
        raise fail(error, path, f"dataset '{where}' keeps its data in an external file ({name}); pyglass reads "
                                "nothing outside the file it is given")
    for k in range(plist.get_nfilters()):
        code = plist.get_filter(k)[0]
        if code not in SAFE_FILTERS:
            raise fail(error, path, f"dataset '{where}' uses filter {code}, which is not built into HDF5 (it would "
                                    "load a plugin); refused")


def _check_attributes(oid, where, path, error):
    try:
        n = h5py.h5a.get_num_attrs(oid)
        for k in range(n):
            a = h5py.h5a.open(oid, index=k)
            nbytes = int(np.prod(a.shape, dtype=float)) * max(a.dtype.itemsize, 1)
            if nbytes > MAX_ATTRIBUTE_BYTES:
                raise fail(error, path, f"attribute '{_decode(a.name)}' of '{where}' declares {_gib(nbytes)} "
                                        f"(more than {MAX_ATTRIBUTE_BYTES >> 20} MiB); refused")
    except (RuntimeError, KeyError, OSError, ValueError) as exc:
        raise fail(error, path, f"attributes of '{where}' cannot be read ({_first_line(exc)})") from None


def declared_bytes(ds) -> float:
    """Bytes a full read of dataset `ds` allocates (variable-length elements: their descriptors)."""
    return float(np.prod(ds.shape, dtype=float)) * max(ds.dtype.itemsize, 16 if ds.dtype.kind == "O" else 1)


def check_declared(ds, path, error=FormatError, shape=None, kinds=None, budget=None, what=None):
    """Refuse dataset `ds` before reading it: not a dataset, dtype kind not in `kinds` (numpy kinds,
    e.g. "f" or "iu"), shape other than `shape` (None entries match any length), or a size above
    `budget` bytes (default: memory_budget())."""
    name = what or getattr(ds, "name", "?")
    if not isinstance(ds, h5py.Dataset):
        raise fail(error, path, f"'{name}' is {'missing' if ds is None else 'a group'}, a dataset was expected")
    if kinds is not None and (ds.dtype.kind not in kinds or ds.dtype.names is not None):
        want = {"f": "floating-point numbers", "iu": "integers", "biuf": "numbers", "fiu": "numbers"}.get(kinds, kinds)
        raise fail(error, path, f"dataset '{name}' has dtype {_dtype_name(ds.dtype)}, expected {want}")
    if shape is not None:
        shape = tuple(shape)
        if len(ds.shape) != len(shape) or any(e is not None and e != s for e, s in zip(shape, ds.shape)):
            want = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ("," * (len(shape) == 1)) + ")"
            raise fail(error, path, f"dataset '{name}' has shape {ds.shape}, expected {want}")
    budget = memory_budget() if budget is None else budget
    nbytes = declared_bytes(ds)
    if ds.dtype.kind != "O":
        stored = ds.id.get_storage_size()
        if nbytes > MAX_EXPANSION * stored + (1 << 20):
            raise fail(error, path, f"dataset '{name}' declares shape {ds.shape} ({_gib(nbytes)}) but stores "
                                    f"{stored} bytes; refused (no HDF5 filter expands data more than "
                                    f"{MAX_EXPANSION}-fold)")
    if nbytes > budget:
        raise fail(error, path, f"dataset '{name}' declares shape {ds.shape} ({_gib(nbytes)}), more than the memory "
                                f"budget ({_gib(budget)}: 80 % of the memory available, or $PYGLASS_MEMORY_LIMIT_GIB)")
    return nbytes


def _dtype_name(dt) -> str:
    if dt.kind == "O":
        return "variable-length " + ("string" if h5py.check_string_dtype(dt) else "sequence")
    return str(dt)


def read_array(ds, path, error=FormatError, shape=None, kinds="biuf", budget=None, what=None, index=None):
    """check_declared, then the value (or `ds[index]`, whose size alone counts against the budget)."""
    if index is None:
        check_declared(ds, path, error, shape, kinds, budget, what)
        return ds[()]
    check_declared(ds, path, error, shape, kinds, np.inf, what)
    row = declared_bytes(ds) / max(ds.shape[0], 1)
    budget = memory_budget() if budget is None else budget
    if row > budget:
        raise fail(error, path, f"one entry of dataset '{what or ds.name}' takes {_gib(row)}, more than the memory "
                                f"budget ({_gib(budget)})")
    return ds[index]


def read_text(ds, path, error=FormatError, max_chars=16 << 20, what=None):
    """The text of a string dataset (scalar or 1-D), each element and their total at most `max_chars`
    characters; read element by element so a crafted length costs no more than the limit allows."""
    name = what or getattr(ds, "name", "?")
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "OSU" or ds.ndim > 1:
        raise fail(error, path, f"dataset '{name}' is missing or not text")
    if ds.dtype.kind == "O" and h5py.check_string_dtype(ds.dtype) is None:
        raise fail(error, path, f"dataset '{name}' holds variable-length sequences, not text")
    if ds.ndim == 1 and ds.shape[0] * 16 > max_chars:
        raise fail(error, path, f"dataset '{name}' declares {ds.shape[0]} strings; refused")
    out, total = [], 0
    for k in ([()] if ds.ndim == 0 else range(ds.shape[0])):
        v = ds[k]
        t = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        total += len(t)
        if total > max_chars:
            raise fail(error, path, f"dataset '{name}' holds more than {max_chars} characters; refused")
        out.append(t)
    return out[0] if ds.ndim == 0 else out


def read_attr(obj, name, path, default=None, error=FormatError, numeric=False):
    """An attribute's value, or `default` when absent; numeric=True refuses strings and sequences
    of strings (the attribute size itself was bounded by check_h5)."""
    if name not in obj.attrs:
        return default
    try:
        v = obj.attrs[name]
    except (OSError, TypeError, ValueError) as exc:
        raise fail(error, path, f"attribute '{name}' of '{obj.name}' cannot be read ({_first_line(exc)})") from None
    if numeric and np.asarray(v).dtype.kind not in "biuf":
        raise fail(error, path, f"attribute '{name}' of '{obj.name}' must be numeric, got {np.asarray(v).dtype}")
    return v


# ================================================================================ text files

def read_text_file(path, error=FormatError, max_bytes=None, what="file") -> str:
    """A text file's content (UTF-8), refused above `max_bytes` (default: memory budget / 16, a
    parsed text takes several times its size) before it is read."""
    path = os.fspath(path)
    limit = memory_budget() / 16 if max_bytes is None else max_bytes
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise fail(error, path, f"cannot read the {what} ({exc.strerror})") from None
    if os.path.isdir(path):
        raise fail(error, path, f"is a directory, not a {what}")
    if size > limit:
        raise fail(error, path, f"{what} of {_gib(size)} is larger than the {_gib(limit)} pyglass reads")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(int(min(limit, 2 ** 62)) + 1)
    except OSError as exc:
        raise fail(error, path, f"cannot read the {what} ({exc.strerror})") from None
    if len(raw) > limit:   # a special file (a pipe, /dev/zero) that reports no size
        raise fail(error, path, f"{what} is larger than the {_gib(limit)} pyglass reads")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(error, path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def nested_depth(text: str, limit: int = MAX_NESTING) -> int:
    """Bracket nesting ([ and {) of JSON or TOML text outside strings: the deepest level, or a value
    <= `limit` when the text cannot nest deeper, or `limit` + 1 as soon as it does (the parsers
    recurse once per level; past Python's recursion limit they crash)."""
    if text.count("[") + text.count("{") <= limit:
        return 0   # cannot nest deeper than the limit
    depth = deepest = 0
    quote = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote or ch == "\n":
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest
