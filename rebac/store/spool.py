"""A local append-only spool: segment files one process appends lines to and a shipper drains.

The decision log's writer (:mod:`rebac.services.spool_recorder`) appends pre-encoded records, one
per line, to the spool; a shipper, a process of its own (:mod:`rebac.store.postgres._shipper`),
reads the complete lines and writes them to the database. The spool is what takes the log's
database write out of the serving process.

**Layout.** Under a root directory (``REBAC_DECISION_SPOOL``), each writing process has its own
directory ``<name>-<pid>-<random>`` (so N workers never share a file), holding:

- ``writer.lock``: held (``flock``) by the writing process while it lives;
- ``shipper.lock``: held by the shipper draining the directory;
- ``seg-000000000001.log``, ``seg-000000000002.log``, ...: the segments, appended in order; the
  writer moves to the next one past ``segment_bytes``;
- ``seg-....pos``: how many bytes of that segment the shipper has committed (written after each
  commit, replaced atomically).

A segment older than the newest one is complete; the shipper deletes it once it has shipped all
of it. A directory whose two locks are both free belongs to nobody (its writer and shipper are
gone): any shipper adopts it, ships what is left and removes it. Locks are ``flock`` locks, so the
kernel releases them when a process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from pathlib import Path
from typing import Final

__all__ = [
    "SEGMENT_BYTES",
    "SHIPPER_LOCK",
    "WRITER_LOCK",
    "SpoolWriter",
    "lock",
    "position",
    "remove_directory",
    "remove_segment",
    "save_position",
    "segments",
]

SEGMENT_BYTES: Final = 16 * 1024 * 1024
WRITER_LOCK: Final = "writer.lock"
SHIPPER_LOCK: Final = "shipper.lock"
_SEGMENT: Final = "seg-{:012d}.log"
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def lock(path: Path, *, create: bool = False, wait: bool = False) -> int | None:
    """An exclusive ``flock`` on ``path`` (its descriptor), or ``None`` when another process holds it.

    With ``create`` false, a missing file is ``None`` too (a directory being removed).
    """
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def segments(directory: Path) -> list[Path]:
    """The directory's segments, oldest first."""
    try:
        return sorted(p for p in directory.iterdir() if p.name.startswith("seg-") and p.suffix == ".log")
    except FileNotFoundError:
        return []


def _position_file(segment: Path) -> Path:
    return segment.with_suffix(".pos")


def position(segment: Path) -> int:
    """The bytes of ``segment`` already shipped (0 when none were)."""
    try:
        return int(_position_file(segment).read_text(encoding="ascii").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def save_position(segment: Path, shipped: int) -> None:
    """Record that the first ``shipped`` bytes of ``segment`` are committed (atomic replace)."""
    target = _position_file(segment)
    scratch = target.with_suffix(".pos.tmp")
    scratch.write_text(str(shipped), encoding="ascii")
    scratch.replace(target)


def remove_segment(segment: Path) -> None:
    """Delete a fully shipped segment and its position."""
    for path in (segment, _position_file(segment)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_directory(directory: Path) -> None:
    """Delete a drained spool directory (what is left of it: locks and positions)."""
    with contextlib.suppress(FileNotFoundError):
        for path in list(directory.iterdir()):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                path.unlink()
    with contextlib.suppress(FileNotFoundError, OSError):
        directory.rmdir()


class SpoolWriter:
    """The writing side: one directory of its own under ``root``, appended with one write per batch.

    Blocking calls, made by one thread (the event loop's: a write of a few kilobytes to the page
    cache takes microseconds). Bytes handed to :meth:`write` survive the process's death (they
    are in the kernel), though not the machine's.

    Args:
        root: The spool root (created when missing).
        name: The writer's name (the instance name); made safe for a path.
        segment_bytes: Size past which the next segment is started.

    Raises:
        OSError: the directory or its first segment cannot be created.
    """

    __slots__ = ("_fd", "_lock", "_segment_bytes", "_seq", "_size", "directory")

    def __init__(self, root: Path, name: str, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        root.mkdir(parents=True, exist_ok=True)
        safe = _UNSAFE.sub("_", name)[:64] or "rebac"
        self.directory = root / f"{safe}-{os.getpid()}-{secrets.token_hex(4)}"
        self.directory.mkdir(mode=0o700)
        self._segment_bytes = segment_bytes
        held = lock(self.directory / WRITER_LOCK, create=True)
        if held is None:  # a fresh directory of our own: nobody else can hold it
            msg = f"cannot lock the spool directory {self.directory}"
            raise OSError(msg)
        self._lock: int | None = held
        (self.directory / SHIPPER_LOCK).touch()
        self._seq = 0
        self._fd = -1
        self._size = 0
        self._next_segment()

    def _next_segment(self) -> None:
        self._seq += 1
        path = self.directory / _SEGMENT.format(self._seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._size = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` (whole lines) to the current segment; start the next one past its size."""
        if self._fd < 0:
            msg = "the spool writer is closed"
            raise OSError(msg)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        if self._size >= self._segment_bytes:
            self._next_segment()

    def shipped(self) -> bool:
        """Whether the shipper has committed every byte written so far (from the positions)."""
        return all(position(segment) >= segment.stat().st_size for segment in segments(self.directory))

    def close(self) -> None:
        """Close the segment and release the directory (its shipper may then finish it)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
        held, self._lock = self._lock, None
        if held is not None:
            os.close(held)
