"""A tiny but structurally valid MP4 file (ftyp, moov with one video track, mdat) built in code."""

from __future__ import annotations

import struct
from functools import lru_cache

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
_TIMESCALE = 1000


def box(kind: bytes, *payload: bytes) -> bytes:
    """An ISO-BMFF box: 32-bit size, four-character type, payload."""
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _sample_entry(width: int, height: int) -> bytes:
    compressor = b"syncdrop emulator"
    visual = (
        bytes(6)
        + struct.pack(">H", 1)  # data_reference_index
        + bytes(16)  # pre_defined / reserved
        + struct.pack(">HH", width, height)
        + struct.pack(">II", 0x00480000, 0x00480000)  # 72 dpi
        + bytes(4)
        + struct.pack(">H", 1)  # frame_count
        + bytes([len(compressor)])
        + compressor.ljust(31, b"\0")
        + struct.pack(">Hh", 0x0018, -1)
    )
    # Baseline-profile avcC with one SPS and one PPS (parameter sets only describe the container).
    sps = bytes([0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x07, 0x3C, 0x04, 0x40])
    pps = bytes([0x68, 0xCE, 0x3C, 0x80])
    avcc = box(
        b"avcC",
        bytes([1, 0x42, 0xC0, 0x0A, 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        bytes([1]),
        struct.pack(">H", len(pps)),
        pps,
    )
    return box(b"avc1", visual, avcc)


def _moov(duration: int, width: int, height: int, sample_size: int, chunk_offset: int) -> bytes:
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, _TIMESCALE, duration),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = full_box(
        b"tkhd",
        0,
        0x000003,
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, _TIMESCALE, duration, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(width, height)),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, 1, duration)),
        full_box(b"stss", 0, 0, struct.pack(">II", 1, 1)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">III", 0, 1, sample_size)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
    )
    minf = box(b"minf", vmhd, dinf, stbl)
    mdia = box(b"mdia", mdhd, hdlr, minf)
    return box(b"moov", mvhd, box(b"trak", tkhd, mdia))


@lru_cache(maxsize=8)
def tiny_mp4(duration_seconds: float = 1.0, width: int = 64, height: int = 64) -> bytes:
    """An MP4 container (about 3 KB) with one ``avc1`` video track of the given duration."""
    duration = max(1, round(duration_seconds * _TIMESCALE))
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
    sample = struct.pack(">I", 2048 - 4) + bytes([0x65, 0x88, 0x84]) + bytes(2048 - 7)
    moov_size = len(_moov(duration, width, height, len(sample), 0))
    chunk_offset = len(ftyp) + moov_size + 8  # first byte of mdat's payload
    moov = _moov(duration, width, height, len(sample), chunk_offset)
    return ftyp + moov + box(b"mdat", sample)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, bytes]]:
    """Top-level ``(type, payload)`` boxes between ``start`` and ``end`` (used by tests)."""
    stop = len(data) if end is None else end
    found: list[tuple[bytes, bytes]] = []
    offset = start
    while offset + 8 <= stop:
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8 or offset + size > stop:
            raise ValueError(f"bad box size {size} at offset {offset}")
        found.append((kind, data[offset + 8 : offset + size]))
        offset += size
    if offset != stop:
        raise ValueError("trailing bytes after the last box")
    return found
