"""The catalogues: every msgid the UI marks is translated in bokmål and English, nothing
stale is left in them, and the in-memory `.po` → `.mo` compiler agrees with GNU msgfmt."""

from __future__ import annotations

import ast
import gettext
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hub.ui
from hub.ui.i18n import LANGUAGES, PoError, compile_po, parse_po, translator

UI = Path(hub.ui.__file__).parent


def marked_msgids() -> set[str]:
    """Every string literal the UI's sources pass to `N_`."""
    found = set()
    for source in UI.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_":
                (argument,) = node.args
                assert isinstance(argument, ast.Constant), f"{source.name}: N_ of a non-literal"
                found.add(argument.value)
    return found


def catalogue(language: str) -> Path:
    return UI / "locale" / language / "LC_MESSAGES" / "hub.po"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_text_is_translated_and_none_is_stale(language: str) -> None:
    entries = parse_po(catalogue(language).read_text())
    marked = marked_msgids()
    assert len(marked) > 20
    assert marked - entries.keys() == set()  # each one translated (empty msgstr is left out)
    assert entries.keys() - marked == {""}  # only the header besides
    assert "charset=UTF-8" in entries[""]


def test_bokmal_differs_from_english() -> None:
    nb, en = translator("nb"), translator("en")
    assert nb.gettext("All is well.") == "Alt er i orden."
    assert en.gettext("All is well.") == "All is well."
    same = {m for m in marked_msgids() if nb.gettext(m) == en.gettext(m)}
    assert same == set()  # every bokmål text is its own (no English left in)
    for message in marked_msgids():  # the same placeholders in both languages
        assert _fields(nb.gettext(message)) == _fields(message) == _fields(en.gettext(message))


def _fields(text: str) -> set[str]:
    return {part.split("}")[0] for part in text.split("{")[1:]}


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt not installed")
@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_reads_as_msgfmts(language: str, tmp_path: Path) -> None:
    mo = tmp_path / "hub.mo"
    subprocess.run(["msgfmt", "-o", str(mo), str(catalogue(language))], check=True)
    theirs = gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))
    ours = gettext.GNUTranslations(
        io.BytesIO(compile_po(parse_po(catalogue(language).read_text())))
    )
    for message in marked_msgids():
        assert ours.gettext(message) == theirs.gettext(message)
    assert ours.info() == theirs.info()


def test_po_details() -> None:
    text = """# a comment
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

msgctxt "menu"
msgid "Open"
msgstr "Åpne"

msgid "one"
msgid_plural "many"
msgstr[0] "én"
msgstr[1] "mange"

msgid "untranslated"
msgstr ""

msgid "multi"
"line \\"quoted\\""
msgstr ""
"flere "
"linjer"
#~ msgid "obsolete"
#~ msgstr "foreldet"
"""
    entries = parse_po(text)
    assert entries == {
        "": "Content-Type: text/plain; charset=UTF-8\n",
        "menu\x04Open": "Åpne",
        "one\0many": "én\0mange",
        'multiline "quoted"': "flere linjer",
    }
    tr = gettext.GNUTranslations(io.BytesIO(compile_po(entries)))
    assert tr.pgettext("menu", "Open") == "Åpne"
    assert tr.ngettext("one", "many", 1) == "én"
    assert tr.ngettext("one", "many", 3) == "mange"
    assert tr.gettext("untranslated") == "untranslated"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('"dangling"', "line 1: a string with no keyword"),
        ('msgid "a"\nmsgstr b', "line 2: expected a quoted string"),
        ('msgid "a"\nmsgfoo "b"', "line 2: unknown keyword"),
        ('msgid "a"\nmsgid_plural "b"\nmsgid_plural "c"', "line 3: msgid_plural twice"),
        ('msgid "a" "b" + "c"', "line 1: bad string"),
    ],
)
def test_po_refusals_name_the_line(text: str, problem: str) -> None:
    with pytest.raises(PoError, match=problem):
        parse_po(text)


def test_unknown_language_refused() -> None:
    with pytest.raises(ValueError, match="no catalogue for language 'de'"):
        translator("de")  # type: ignore[arg-type]


# NUL and EOT are the .mo format's own separators (plural forms, context): never in a text.
_texts = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00\x04"), max_size=40
)


@given(st.dictionaries(_texts.filter(bool), _texts.filter(bool), max_size=20))
def test_any_catalogue_round_trips(entries: dict[str, str]) -> None:
    """Written as a .po text (JSON's escapes are C's), parsed, compiled, looked up."""
    lines = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for key, value in entries.items():
        lines += [f"msgid {_quoted(key)}", f"msgstr {_quoted(value)}", ""]
    parsed = parse_po("\n".join(lines))
    tr = gettext.GNUTranslations(io.BytesIO(compile_po(parsed)))
    for key, value in entries.items():
        assert tr.gettext(key) == value


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
