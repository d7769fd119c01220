"""The write-ahead log read the way SQLite reads it, to see what SQLite would silently drop.

SQLite replays WAL frames while each frame's cumulative checksum holds and stops at the first
that fails: every later commit is dropped without a word, and `integrity_check` then passes
on what is left. A flipped byte in the middle of a WAL after a crash loses every transaction
after it. `scan` finds such a break with committed frames behind it; `rechain` gives the
same WAL with the checksums recomputed, so a copy of the database opened with it sees those
later commits and the damaged rows show up as rows whose authentication fails (counted),
not as rows that vanished.

Pure: bytes in, bytes and counts out. Format: https://sqlite.org/fileformat.html#the_write_ahead_log
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER_BYTES = 32
FRAME_HEADER_BYTES = 24
_MAGIC_LITTLE, _MAGIC_BIG = 0x377F0682, 0x377F0683
_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class WalScan:
    frames: int  # whole frames with this WAL's salt
    replayed: int  # frames SQLite replays (up to the last commit before any break)
    dropped_commits: int  # commits of this WAL SQLite would drop after a checksum break

    @property
    def damaged(self) -> bool:
        return self.dropped_commits > 0


def checksum(data: bytes, s0: int, s1: int, *, big_endian: bool) -> tuple[int, int]:
    """SQLite's WAL checksum of `data` (a multiple of 8 bytes), continuing from (s0, s1)."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & _MASK
        s1 = (s1 + words[i + 1] + s0) & _MASK
    return s0, s1


@dataclass(frozen=True)
class _Header:
    big_endian: bool
    page_size: int
    salts: bytes
    checksum_ok: bool


def _header(wal: bytes) -> _Header | None:
    if len(wal) < HEADER_BYTES:
        return None
    magic, _version, page_size = struct.unpack_from(">III", wal)
    if magic not in (_MAGIC_LITTLE, _MAGIC_BIG) or page_size < 512 or page_size & (page_size - 1):
        return None
    big = magic == _MAGIC_BIG
    ok = checksum(wal[:24], 0, 0, big_endian=big) == struct.unpack_from(">II", wal, 24)
    return _Header(big, page_size, wal[16:24], ok)


def _frames(wal: bytes, header: _Header) -> list[int]:
    """Offsets of the whole frames of this WAL generation (its salt), in order: frames left
    from an older generation after them carry another salt. A frame whose own salt was
    damaged counts as this generation's when a later one has the salt."""
    size = FRAME_HEADER_BYTES + header.page_size
    offsets = list(range(HEADER_BYTES, len(wal) - size + 1, size))
    ours = [i for i, at in enumerate(offsets) if wal[at + 8 : at + 16] == header.salts]
    return offsets[: ours[-1] + 1] if ours else []


def scan(wal: bytes) -> WalScan:
    """What SQLite replays of `wal`, and how many committed frames it would drop."""
    header = _header(wal)
    if header is None:
        return WalScan(0, 0, 0)
    frames = _frames(wal, header)
    s = checksum(wal[:24], 0, 0, big_endian=header.big_endian)
    broken = not header.checksum_ok
    replayed = dropped = 0
    for n, at in enumerate(frames, 1):
        is_commit = struct.unpack_from(">I", wal, at + 4)[0] != 0
        if not broken:
            s = checksum(wal[at : at + 8], *s, big_endian=header.big_endian)
            s = checksum(_page(wal, at, header), *s, big_endian=header.big_endian)
            stored = struct.unpack_from(">II", wal, at + 16)
            broken = wal[at + 8 : at + 16] != header.salts or s != stored
            if not broken and is_commit:
                replayed = n
        if broken and is_commit:
            dropped += 1
    return WalScan(len(frames), replayed, dropped)


def rechain(wal: bytes) -> bytes:
    """`wal` with this generation's salts and every checksum rewritten, so SQLite replays all
    of its committed frames, damaged ones included (their rows then fail authentication)."""
    header = _header(wal)
    if header is None:
        return wal
    out = bytearray(wal)
    s = checksum(wal[:24], 0, 0, big_endian=header.big_endian)
    out[24:32] = struct.pack(">II", *s)
    for at in _frames(wal, header):
        out[at + 8 : at + 16] = header.salts
        s = checksum(bytes(out[at : at + 8]), *s, big_endian=header.big_endian)
        s = checksum(_page(wal, at, header), *s, big_endian=header.big_endian)
        out[at + 16 : at + 24] = struct.pack(">II", *s)
    return bytes(out)


def _page(wal: bytes, at: int, header: _Header) -> bytes:
    start = at + FRAME_HEADER_BYTES
    return wal[start : start + header.page_size]
