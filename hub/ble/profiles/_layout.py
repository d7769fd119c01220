"""Byte layouts of flag-driven characteristics, precomputed per flags value.

A decoder checks the whole length once (`len(data) != layout.size`); only on a mismatch does
`Layout.error` walk the fields to name the one that is cut short, or the trailing bytes."""

from __future__ import annotations

from collections.abc import Sequence

from hub.ble.profiles.errors import DecodeError, trailing, truncated

Fields = Sequence[tuple[str, int]]


class Layout:
    __slots__ = ("char", "fields", "size")

    def __init__(self, char: str, fields: Fields) -> None:
        self.char = char
        self.fields = tuple(fields)
        self.size = sum(size for _, size in self.fields)

    def error(self, data: bytes) -> DecodeError:
        n = len(data)
        offset = 0
        for name, size in self.fields:
            if offset + size > n:
                return truncated(self.char, name, offset, size, n - offset)
            offset += size
        return trailing(self.char, offset, n - offset)


def layouts(
    char: str, head: Fields, optional: Sequence[tuple[int, Fields]], width: int
) -> tuple[Layout, ...]:
    """One `Layout` for each flags value below 2**width: `head`, then each optional group in
    order when its flag bit is set."""
    return tuple(
        Layout(char, [*head, *(f for bit, group in optional if flags & bit for f in group)])
        for flags in range(1 << width)
    )


def checked_flags(data: bytes, char: str, table: Sequence[Layout], allowed: int) -> int:
    """The flags byte of a flag-driven value, once its reserved bits and the whole length are
    checked against the layout the flags announce."""
    if not data:
        raise DecodeError(f"{char}: empty value")
    flags = data[0]
    if flags & ~allowed:
        check_flags(char, flags, allowed)
    if len(data) != table[flags].size:
        raise table[flags].error(data)
    return flags


def check_flags(char: str, flags: int, allowed: int, field: str = "flags") -> None:
    """Reserved bits set in a flags field: the layout is unknown, so the value is refused."""
    if flags & ~allowed:
        raise DecodeError(f"{char}: {field} {flags:#04x} has reserved bit(s) {flags & ~allowed:#x}")


def check_size(char: str, field: str, size: int, data: bytes) -> None:
    """A fixed-size value: exactly `size` bytes."""
    if len(data) != size:
        raise Layout(char, ((field, size),)).error(data)
