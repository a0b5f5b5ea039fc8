"""Where a run may write: one place for the output-path checks and the run's exclusive lock.

`check_targets` runs before any work, on the files a run will create or replace (the output, its
checkpoint, a study's sample files and index). Refused, with a one-line DeckError on `output.path`:
  * a file the run also reads (the `[system]` file, the restart checkpoint) or two roles on one path
    (`output.checkpoint_path` equal to the output: the checkpoint would replace the output);
  * a symbolic link (a run never writes through one to wherever it points);
  * something that is not a regular file (a directory, `/dev/null`, a pipe);
  * an existing file that is not a pyglass file, unless `--overwrite` (pyglass's own output, from
    an earlier run of the same deck, is replaced as before).
`OutputLock` is a lock file of our own, `<output>.lock`, created exclusively (O_CREAT | O_EXCL) by
world rank 0 and removed when the run ends, so two runs cannot share an output even where HDF5's
file locking is off (common on NFS and Lustre). A lock left by a run that was killed is taken over
when it names a process of this host that no longer exists; otherwise the message says how to
remove it.
"""
from __future__ import annotations

import datetime
import os
import socket
import stat

from pyglass.workflow.deck.errors import DeckError

KEY = "output.path"


def _real(path) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def check_targets(targets, inputs=(), overwrite=False, appending=False, comm=None):
    """Refuse writing any of `targets` [(path, what)] (see the module docstring). `inputs`: paths the
    run reads; `appending`: a restart, which reopens existing outputs instead of replacing them.
    Collective over `comm`: world rank 0 looks (other replicas may already be writing), every rank
    raises the same DeckError."""
    if comm is None or comm.Get_size() == 1:
        return _check_targets(targets, inputs, overwrite, appending)
    err = None
    if comm.Get_rank() == 0:
        try:
            _check_targets(targets, inputs, overwrite, appending)
        except DeckError as exc:
            err = (exc.message, exc.key)
    err = comm.bcast(err, root=0)
    if err is not None:
        raise DeckError(err[0], key=err[1])


def _check_targets(targets, inputs, overwrite, appending):
    seen = {}
    read = {_real(p): p for p in inputs if p}
    for path, what in targets:
        path = os.fspath(path)
        real = _real(path)
        if real in read:
            raise DeckError(f"the {what} {path} is also a file this run reads ({read[real]}); write to another path",
                            key=KEY)
        if real in seen:
            raise DeckError(f"the {what} and the {seen[real]} are one file ({path}): the one would replace the "
                            "other; give them different paths (output.checkpoint_path)", key=KEY)
        seen[real] = what
        _check_one(path, what, overwrite, appending)


def _check_one(path, what, overwrite, appending):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DeckError(f"the {what} {path} cannot be examined ({exc.strerror})", key=KEY) from None
    if stat.S_ISLNK(st.st_mode):
        raise DeckError(f"the {what} {path} is a symbolic link (to {os.readlink(path)}); pyglass does not write "
                        "through links: give the path of the file itself, or remove the link", key=KEY)
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise DeckError(f"the {what} {path} is {kind}; give a file path", key=KEY)
    if appending or overwrite or st.st_size == 0:
        return
    if not is_pyglass_file(path):
        raise DeckError(f"the {what} {path} exists and is not a pyglass file; pass --overwrite to replace it, or "
                        "write elsewhere (-o)", key=KEY)


def is_pyglass_file(path) -> bool:
    """True for an HDF5 file whose /h5md/creator names pyglass (outputs, checkpoints, snapshots), or
    a softness model file (JSON) pyglass wrote."""
    from pyglass.io._common import FormatError
    from pyglass.io.safe_read import open_h5
    if os.fspath(path).endswith(".json"):
        try:
            with open(path, "rb") as fh:
                return b'"pyglass-linear-softness"' in fh.read(4096)
        except OSError:
            return False
    try:
        f = open_h5(path)
    except (FormatError, OSError):
        return False
    with f:
        creator = f.get("h5md/creator")
        name = creator.attrs.get("name") if creator is not None else None
    return (name.decode() if isinstance(name, bytes) else str(name)) == "pyglass"


def lock_path(output) -> str:
    return os.fspath(output) + ".lock"


class OutputLock:
    """`with OutputLock(output, comm):` holds `<output>.lock` for the run (collective: world rank 0
    takes it, every rank raises the same DeckError when it is held elsewhere)."""

    def __init__(self, output, comm=None):
        self.path = lock_path(output)
        self.comm = comm
        self.held = False

    def _rank(self):
        return 0 if self.comm is None else self.comm.Get_rank()

    def __enter__(self):
        err = None
        if self._rank() == 0:
            try:
                self._acquire()
            except DeckError as exc:
                err = str(exc)
        if self.comm is not None and self.comm.Get_size() > 1:
            err = self.comm.bcast(err, root=0)
        if err is not None:
            raise DeckError(err, key=None)
        return self

    def _acquire(self, retry=True):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = self._holder()
            if retry and holder is not None and _stale(*holder[:2]):
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                return self._acquire(retry=False)
            who = f"pid {holder[1]} on {holder[0]} since {holder[2]}" if holder else "unreadable"
            raise DeckError(f"{KEY}: the output {self.path[:-5]} is in use by another run (lock file {self.path}: "
                            f"{who}); if no run is using it, delete the lock file") from None
        except OSError as exc:
            raise DeckError(f"{KEY}: cannot create the lock file {self.path} ({exc.strerror})") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{socket.gethostname()} {os.getpid()} "
                     f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}\n")
        self.held = True

    def _holder(self):
        try:
            with open(self.path) as fh:
                host, pid, since = fh.read(200).split()[:3]
            return host, int(pid), since
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc):
        if self.held:
            holder = self._holder()
            if holder is not None and holder[:2] == (socket.gethostname(), os.getpid()):
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
            self.held = False
        return False


def _stale(host, pid) -> bool:
    """The lock names a process of this host that no longer exists."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, another user's
        return False
    return False
