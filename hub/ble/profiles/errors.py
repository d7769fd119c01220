"""The one error every decoder raises for bytes that do not follow the specification."""

from __future__ import annotations


class DecodeError(ValueError):
    """Malformed characteristic value: truncated, trailing bytes, reserved flags or values.

    The message names the characteristic and the field or offset at fault."""


def truncated(char: str, field: str, offset: int, size: int, have: int) -> DecodeError:
    return DecodeError(
        f"{char}: truncated at offset {offset}: {field} needs {size} byte(s), {have} left"
    )


def trailing(char: str, offset: int, extra: int) -> DecodeError:
    return DecodeError(f"{char}: {extra} trailing byte(s) after offset {offset}")


def reserved(char: str, field: str, value: int) -> DecodeError:
    return DecodeError(f"{char}: {field} has reserved value {value:#x}")
