"""gettext catalogues from their `.po` sources, compiled in memory at first use.

The `.po` files are the only form committed and shipped (package data), so a fresh checkout,
`make test` and the wheel need no build step and no `msgfmt`: `compile_po` turns a `.po` text
into `.mo` bytes (the format the standard library's `gettext.GNUTranslations` reads, so
plural forms and lookups are the stdlib's own). Parsing and compiling are pure.
"""

from __future__ import annotations

import ast
import functools
import gettext
import io
import struct
from importlib import resources
from typing import Final, Literal

Language = Literal["nb", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("nb", "en")
DOMAIN: Final = "hub"


class PoError(ValueError):
    """A `.po` text that cannot be read; the message names the line."""


def parse_po(text: str) -> dict[str, str]:
    """The translated entries of a `.po` text: msgid → msgstr (the header under "");
    plural entries as `msgid\\0msgid_plural` → `msgstr[0]\\0msgstr[1]...`. Untranslated
    entries (empty msgstr) and obsolete ones (`#~`) are left out, as msgfmt does."""
    entries: dict[str, str] = {}
    fields: dict[str, str] = {}
    current: str | None = None

    def finish() -> None:
        if "msgid" in fields:
            key, value = _entry(fields)
            if value:
                entries[key] = value
        fields.clear()

    for number, raw in enumerate(text.split("\n"), 1):  # not splitlines: U+0085 is text
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            if current is None:
                raise PoError(f"line {number}: a string with no keyword before it")
            fields[current] += _string(line, number)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword not in ("msgctxt", "msgid", "msgid_plural") and not keyword.startswith("msgstr"):
            raise PoError(f"line {number}: unknown keyword {keyword!r}")
        if keyword in ("msgctxt", "msgid") and ("msgstr" in fields or "msgstr[0]" in fields):
            finish()
        if keyword in fields:
            raise PoError(f"line {number}: {keyword} twice in one entry")
        current = keyword
        fields[keyword] = _string(rest.strip(), number)
    finish()
    return entries


def compile_po(entries: dict[str, str]) -> bytes:
    """GNU `.mo` bytes of `entries` (as `parse_po` returns), keys sorted as msgfmt sorts."""
    keys = sorted(entries, key=str.encode)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    count = len(keys)
    ids_start = 7 * 4 + 16 * count
    offsets: list[int] = []
    blob = io.BytesIO()
    for data in (*ids, *strs):
        offsets += [len(data), ids_start + blob.tell()]
        blob.write(data + b"\0")
    header = struct.pack("<7I", 0x950412DE, 0, count, 28, 28 + 8 * count, 0, 0)
    return header + struct.pack(f"<{4 * count}I", *offsets) + blob.getvalue()


@functools.cache
def translator(language: Language) -> gettext.GNUTranslations:
    """The catalogue of `language` (`nb` or `en`), read from the package's `.po` once."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}; known: {', '.join(LANGUAGES)}")
    source = resources.files("hub.ui") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = compile_po(parse_po(source.read_text(encoding="utf-8")))
    return gettext.GNUTranslations(io.BytesIO(mo))


def _entry(fields: dict[str, str]) -> tuple[str, str]:
    key = fields["msgid"]
    if "msgctxt" in fields:
        key = f"{fields['msgctxt']}\x04{key}"
    if "msgid_plural" in fields:
        key += "\0" + fields["msgid_plural"]
        forms = sorted(k for k in fields if k.startswith("msgstr["))
        values = [fields[k] for k in forms]
        return key, "\0".join(values) if all(values) else ""
    return key, fields.get("msgstr", "")


def _string(token: str, number: int) -> str:
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        raise PoError(f"line {number}: expected a quoted string, got {token[:40]!r}")
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError):
        raise PoError(f"line {number}: bad string {token[:40]!r}") from None
    if not isinstance(value, str):
        raise PoError(f"line {number}: bad string {token[:40]!r}")
    return value
