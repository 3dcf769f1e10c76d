"""A damaged-log corpus built from one healthy event file: truncations, bit flips, huge
record lengths with valid CRCs, special files, empty and header-only files.

Used by tests/test_reliability_logs.py and bench/reliability_table.py: each damaged file
sits in its own run folder, beside healthy runs, under one root.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
from pathlib import Path

EVENT_NAME = "events.out.tfevents.1700000000.corpus.0.v2"


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes, length: int | None = None) -> bytes:
    """One TFRecord; `length` overrides the length field (its CRC stays valid)."""
    header = struct.pack("<Q", len(data) if length is None else length)
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def record_offsets(blob: bytes) -> list[int]:
    offsets, offset = [], 0
    while offset + 12 <= len(blob):
        offsets.append(offset)
        (length,) = struct.unpack_from("<Q", blob, offset)
        offset += 16 + length
    return offsets


def damaged_variants(healthy: bytes) -> dict[str, bytes]:
    """name -> bytes of a damaged copy of a healthy event file."""
    offsets = record_offsets(healthy)
    size = len(healthy)
    out: dict[str, bytes] = {}
    for fraction in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95):
        out[f"truncated-{int(fraction * 100)}pct"] = healthy[: int(size * fraction)]
    out["truncated-mid-header"] = healthy[: offsets[1] + 5]
    out["truncated-last-byte"] = healthy[:-1]
    for fraction in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        position = int(size * fraction)
        flipped = bytearray(healthy)
        flipped[position] ^= 0x10
        out[f"bitflip-{int(fraction * 100)}pct"] = bytes(flipped)
    flipped = bytearray(healthy)
    flipped[offsets[1] + 2] ^= 0x01  # inside a length field: the length CRC no longer matches
    out["bitflip-length-field"] = bytes(flipped)
    second = offsets[min(2, len(offsets) - 1)]
    for power in (36, 40, 44, 48, 52, 56, 63):
        # A huge length with a valid length CRC: the segfault of TensorFlow's reader.
        out[f"huge-length-2^{power}"] = healthy[:second] + frame(b"x" * 32, length=1 << power) + healthy[second:]
    out["huge-length-first-record"] = frame(b"x" * 8, length=1 << 40) + healthy
    out["length-just-past-end"] = healthy + frame(b"y" * 8, length=64)
    out["empty"] = b""
    out["header-only"] = healthy[: offsets[1]]
    out["garbage"] = bytes(range(256)) * 8
    out["zeros"] = b"\0" * 4096
    out["valid-frames-not-events"] = frame(b"not a protobuf event \xff\xfe") * 5
    return out


def build_corpus(root: Path, healthy_run: Path) -> dict[str, Path]:
    """Under root: healthy/ (a copy of healthy_run) and one run folder per damaged input,
    each with a train/ half holding the damaged file. Returns name -> run folder."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(healthy_run, root / "healthy")
    healthy_file = next((healthy_run / "train").glob("events.out.tfevents.*"))
    runs = {}
    for name, blob in damaged_variants(healthy_file.read_bytes()).items():
        train = root / name / "train"
        train.mkdir(parents=True)
        (train / EVENT_NAME).write_bytes(blob)
        runs[name] = root / name
    for name, make in (("special-directory", _make_dir), ("special-fifo", os.mkfifo),
                       ("special-dangling-symlink", _make_dangling), ("special-socket", _make_socket)):
        train = root / name / "train"
        train.mkdir(parents=True)
        make(train / EVENT_NAME)
        runs[name] = root / name
    return runs


def _make_dir(path: Path) -> None:
    path.mkdir()


def _make_dangling(path: Path) -> None:
    path.symlink_to(path.parent / "gone")


def _make_socket(path: Path) -> None:
    # Bound in a short folder and moved: socket paths are limited to ~107 bytes.
    with tempfile.TemporaryDirectory(prefix="s") as short, socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.path.join(short, "s"))
        os.rename(os.path.join(short, "s"), path)
