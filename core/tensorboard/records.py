"""TFRecord framing checked in Python before TensorBoard's C++ reader sees an event file.

A TFRecord is: length (uint64 LE), masked CRC32C of the length (4), data (length), masked
CRC32C of the data (4). TensorFlow's record reader checks the length CRC, then allocates
`length` bytes before reading them: a record whose length field is huge (2^36 and up)
but carries a valid length CRC kills the whole process with SIGSEGV, taking every other
run being read with it. So the frames are walked here first (headers only, cheap), and
the reader is only ever given bytes in which every frame fits inside the file:

- the whole file, when every frame fits (the common case: no copy);
- otherwise an in-memory copy of the bytes before the first frame that overruns the
  file (a truncated write, or a corrupt length), which the reader then checks CRC by CRC.

Special files (directories, FIFOs, sockets, dangling symlinks) are refused before they
are opened: opening a FIFO would block forever.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER_BYTES = 12  # length (8) + length CRC (4)
FOOTER_BYTES = 4  # data CRC
_LENGTH = struct.Struct("<Q")


class NotAnEventFile(OSError):
    """A path named like an event file that is not a readable regular file."""


@dataclass(frozen=True)
class Framing:
    """Where the frames of a record file stop fitting inside it."""

    size: int  # file size in bytes
    sound_bytes: int  # bytes covered by whole frames that fit in the file, from the start
    records: int  # frames in those bytes
    overrun_at: int | None = None  # offset of the first frame claiming more bytes than remain
    overrun_length: int = 0  # the length that frame claims

    @property
    def whole(self) -> bool:
        """Every frame fits: the file can go to the reader as it is."""
        return self.overrun_at is None


def regular_file_size(path: str | Path) -> int:
    """The size of a regular file; NotAnEventFile (an OSError) for anything else."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        kind = "a dangling symlink" if os.path.islink(path) else "missing"
        raise NotAnEventFile(f"not a file ({kind})") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotAnEventFile(f"not a regular file ({_kind(info.st_mode)})")
    return info.st_size


def check_framing(path: str | Path) -> Framing:
    """Walk the frame headers of a record file (no data is read, no CRC computed)."""
    size = regular_file_size(path)
    if size == 0:
        return Framing(0, 0, 0)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return walk_frames(view, size)


def walk_frames(data, size: int) -> Framing:
    """Framing of `size` bytes of `data` (bytes or mmap): a pure function of the bytes."""
    offset = records = 0
    while size - offset >= HEADER_BYTES:
        (length,) = _LENGTH.unpack_from(data, offset)
        end = offset + HEADER_BYTES + length + FOOTER_BYTES
        if end > size:
            return Framing(size, offset, records, overrun_at=offset, overrun_length=length)
        offset, records = end, records + 1
    # Fewer than 12 bytes left: a torn header the reader stops at without allocating.
    return Framing(size, size, records)


@contextlib.contextmanager
def safe_copy(path: str | Path, framing: Framing) -> Iterator[str]:
    """A path to read instead of `path`: the file itself when whole, else an in-memory copy
    of its sound bytes (memfd on Linux, nothing left on disk; a deleted temp file elsewhere)."""
    if framing.whole:
        yield str(path)
        return
    with open(path, "rb") as source:
        prefix = source.read(framing.sound_bytes)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("tblab-events")
        try:
            os.write(fd, prefix)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile(prefix="tblab-events-") as copy:
        copy.write(prefix)
        copy.flush()
        yield copy.name


def read_records(path: str | Path, framing: Framing) -> Iterator[bytes]:
    """The records of a file, each CRC-checked by TensorBoard's reader, which stops quietly
    at the first bad one; never handed a frame longer than the file."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    if framing.sound_bytes == 0:
        return
    with safe_copy(path, framing) as readable:
        yield from RawEventFileLoader(readable).Load()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"
