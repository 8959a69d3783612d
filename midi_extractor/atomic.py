"""Write files so a crash never leaves a half-written one: a temporary file beside
the target, flushed and fsync'ed, then ``os.replace`` (atomic on POSIX and Windows).

Temporary names: ``.<name>.<random>.tmp`` in the target's folder (unique, so two
writers never share one; ``model.checkpoint.save_checkpoint`` writes through
:func:`atomic_open` too).
A process killed between the write and the rename leaves that file behind:
:func:`clean_stale_tmp` removes a target's leftovers (also the older fixed name
``<name>.tmp``) and :func:`clean_stale_tmp_in` every leftover in a folder.
Callers run them once on start, before they write (build-index and
filter-index do; training should for its out-dir, evaluation for its
report folder).

Failures: an ``OSError`` while writing (a full disk, a read-only folder, no permission) is
raised as :class:`OutputError` (an ``OSError`` with the same ``errno``) whose message is one
line naming the target, not the temporary file; the target is as it was. The CLI prints it
as ``COMMAND: <message>``, rc 2 (``midi_extractor.cli``). :func:`check_writable` probes a
folder before the compute that will write there.

Concurrent writers: :func:`exclusive_output` holds ``.<name>.lock`` beside an output (an
exclusive ``flock``, the file holding the writer's pid; removed on exit, released by the kernel
when a writer is killed), so a second writer is refused with ``OutputBusy`` naming the file and
the pid.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

log = logging.getLogger(__name__)

#: the process umask (read once at import): mkstemp's 0600 becomes the usual 0666 & ~umask
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class OutputError(OSError):
    """An output that cannot be written; ``str()`` is one line naming it (``errno`` kept)."""

    def __init__(self, path: str | Path, exc: OSError, what: str = "cannot be written"):
        super().__init__(exc.errno, exc.strerror or str(exc), str(path))
        self.message = f"{path}: {what} ({_reason(exc)}); nothing was half-written"

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # crosses process pools (prepare --jobs N) whole
        return _restore_output_error, (type(self), self.errno, self.strerror, self.filename, self.message)


def _restore_output_error(cls: type, errno_: int | None, strerror: str, filename: str, message: str) -> OutputError:
    err = OSError.__new__(cls)
    OSError.__init__(err, errno_, strerror, filename)
    err.message = message
    return err


class OutputBusy(OutputError):
    """Another live process holds the output's lock file."""

    def __init__(self, path: str | Path, pid: int):
        OSError.__init__(self, errno.EBUSY, "being written by another run", str(path))
        who = f"pid {pid}" if pid else "pid unknown"
        self.message = f"{path} is being written by another run ({who}); wait for it or write elsewhere"


class OutputExists(OutputError):
    """An output that is there already, and overwriting was not asked for."""

    def __init__(self, path: str | Path, flag: str = "--overwrite"):
        OSError.__init__(self, errno.EEXIST, "exists", str(path))
        self.message = f"{path} exists; pass {flag} to replace it"


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return f"{text}, errno {exc.errno}" if exc.errno else f"{text}; a full disk?"


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[Any]:
    """``with atomic_open(path, "w") as f: ...``: ``f`` is a temporary file in
    ``path``'s folder (created when missing); on a clean exit it is fsync'ed
    and renamed onto ``path``, on an exception removed (``path`` untouched).
    ``mode``: ``"w"`` (text; ``kwargs`` go to ``open``, e.g. ``newline=""``)
    or ``"wb"``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise


def check_writable(folder: str | Path) -> Path:
    """Check, before compute whose results go there, that files can be written in ``folder``:
    a probe file is written and removed in it, or, when it does not exist yet, in its nearest
    existing parent (nothing is created that would stay). Raises :class:`OutputError` naming
    ``folder`` (a read-only folder, a path under a file, no permission)."""
    folder = Path(folder)
    probe_in = next((p for p in (folder, *folder.absolute().parents) if p.exists()), Path("/"))
    try:
        if not probe_in.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(probe_in))
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(folder, exc, "output folder cannot be created or written") from exc
    return folder


@contextlib.contextmanager
def exclusive_output(path: str | Path) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``path`` while the block writes it: an exclusive
    ``fcntl.flock`` on that file, which holds the writer's pid (the kernel releases it when the
    process dies, even by SIGKILL, so no stale lock outlives a killed run); removed on exit.
    Raises :class:`OutputBusy` naming the pid when another open file holds it (another run, or
    this process already), :class:`OutputError` when the lock cannot be created. Folders it
    creates for the lock are removed on exit when nothing was written in them."""
    import fcntl

    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]  # removed again if left empty
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o666 & ~_UMASK)
        except OSError as exc:
            raise OutputError(path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise OutputBusy(path, int(pid) if pid.isdigit() else 0) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:  # the holder removed it between our open and our lock
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
        for folder in made:  # innermost first; a folder the run wrote into is not empty
            with contextlib.suppress(OSError):
                folder.rmdir()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def write_json(path: str | Path, data: Any, *, indent: int = 1,
               default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``data`` as JSON (plus a final newline) to ``path`` atomically,
    creating the parent folder; returns the path. Nothing is written when
    ``data`` does not serialise (the previous file stays)."""
    text = json.dumps(data, indent=indent, default=default) + "\n"
    return write_text(path, text)


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> Path:
    """Write ``rows`` (dicts; keys beyond ``fieldnames`` ignored, missing ones
    empty) as CSV with a header, atomically; returns the path."""
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fieldnames), extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow(row)
    return Path(path)


def _remove_old(candidates: Iterable[Path], older_than_s: float) -> list[Path]:
    now, removed = time.time(), []
    for p in candidates:
        try:
            if p.is_file() and not p.is_symlink() and now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except OSError as exc:  # vanished or not ours to remove: leave it
            log.debug("could not remove %s: %s", p, exc)
    if removed:
        log.warning("removed %d stale temporary file(s) left by an interrupted write: %s",
                    len(removed), ", ".join(str(p) for p in removed[:5]))
    return removed


def clean_stale_tmp(target: str | Path, older_than_s: float = 0.0) -> list[Path]:
    """Remove temporary files an interrupted atomic write of ``target`` left
    (``.<name>.*.tmp`` and ``<name>.tmp`` beside it) whose age is at least
    ``older_than_s`` seconds; returns what was removed (logged as a warning).
    Call on start, before writing ``target``, from the only writer of it."""
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        return []
    candidates = list(folder.glob(f".{glob_escape(target.name)}.*.tmp")) + [folder / f"{target.name}.tmp"]
    return _remove_old(candidates, older_than_s)


def clean_stale_tmp_in(folder: str | Path, older_than_s: float = 0.0) -> list[Path]:
    """Remove every leftover temporary file of an atomic write in ``folder``
    (``.*.tmp`` hidden files, the pattern this module and checkpoints use);
    returns what was removed. For a folder whose only writer is the caller
    (a training out-dir)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return _remove_old(folder.glob(".*.tmp"), older_than_s)


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped (``[*]`` style)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte blocks (checkpoint references, exports)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
