"""Every message of the code and the templates has a French translation. The messages are extracted from the
sources now, with Babel and the repository's babel.cfg (as ``make messages`` does), not read from the committed
.pot: a string added without running ``make messages`` fails here too."""

from __future__ import annotations

import ast
import io
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch
from jinja2.ext import babel_extract

ROOT = Path(__file__).resolve().parents[2]
FRENCH = ROOT / "src/cauri/i18n/translations/fr/LC_MESSAGES/messages.po"
#: ``%(name)s``, ``%s``, ``{name}``: what Python fills in, so a translation must keep each of them (``%%`` is
#: matched only to be left out: it is a percent sign).
PLACEHOLDER = re.compile(r"%%|%(?:\(\w+\))?[#0 +-]*\d*(?:\.\d+)?[sdifr]|\{[^{}]*\}")


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    with (ROOT / "babel.cfg").open() as cfg:
        return parse_mapping_cfg(cfg)


def extracted() -> dict[str, list[str]]:
    """Each msgid found in the sources, with the files it appears in."""
    method_map, options_map = _mapping()
    found: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, []).append(filename)
    return found


def french() -> Catalog:
    with FRENCH.open("rb") as po:
        return read_po(po, locale="fr")


def placeholders(text: str) -> Counter[str]:
    return Counter(p for p in PLACEHOLDER.findall(text) if p != "%%")


def test_the_extraction_finds_the_messages_of_code_and_templates() -> None:
    found = extracted()
    # One of each kind: a template's _(), a face's gettext(), a service's N_(), a connector's N_(), a mail's _().
    for msgid in (
        "Choose how to pay",
        "Too many attempts. Wait a few minutes.",
        "Check the card number.",
        "The card was declined.",
        "Keep this email as your receipt.",
    ):
        assert msgid in found, msgid
    assert len(found) > 80


def test_every_message_has_a_french_translation() -> None:
    catalogue = french()
    missing = []
    for msgid, where in sorted(extracted().items()):
        entry = catalogue.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{msgid!r} ({', '.join(sorted(set(where)))})")
    assert not missing, "no French translation (run `make messages`, then translate):\n" + "\n".join(missing)


def test_translations_keep_the_placeholders_of_their_message() -> None:
    wrong = [
        f"{entry.id!r} -> {entry.string!r}"
        for entry in french()
        if entry.id and entry.string and placeholders(str(entry.id)) != placeholders(str(entry.string))
    ]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_placeholders_are_found() -> None:
    assert placeholders("Hello %(name)s, {count} of %s") == Counter(["%(name)s", "{count}", "%s"])
    assert placeholders("100%% sure") == Counter()
    assert placeholders("Bonjour %(name)s") != placeholders("Bonjour %(nom)s")


def _sources(method: str) -> list[Path]:
    method_map, _options = _mapping()
    files = []
    for folder, _dirs, names in os.walk(ROOT / "src"):
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(ROOT).as_posix()
            if next((m for pattern, m in method_map if pathmatch(pattern, relative)), None) == method:
                files.append(path)
    return sorted(files)


def _non_literal_calls_in_python(source: str) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name in DEFAULT_KEYWORDS:
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                calls.append(f"{node.lineno}: {ast.unparse(node)}")
    return calls


@pytest.mark.parametrize("method", ["python", "jinja2"])
def test_no_message_id_is_built_at_run_time(method: str) -> None:
    """``_``, ``gettext`` and ``N_`` take a literal, or the extractor cannot see the message. A value that
    came from elsewhere (one of those literals, marked where it was written) goes through ``translate``."""
    _method_map, options_map = _mapping()
    found = []
    sources = _sources(method)
    assert sources
    for path in sources:
        if method == "python":
            if path.parent.name == "i18n" and path.parent.parent.name == "cauri":
                continue  # the translating machinery itself: ``translate`` passes its argument on
            found += [f"{path.relative_to(ROOT)}:{call}" for call in _non_literal_calls_in_python(path.read_text())]
        else:
            options = next(o for p, o in options_map.items() if pathmatch(p, path.relative_to(ROOT).as_posix()))
            with path.open("rb") as template:
                for lineno, funcname, message, _comments in babel_extract(template, DEFAULT_KEYWORDS, [], options):
                    first = message[0] if isinstance(message, tuple) else message
                    if not isinstance(first, str):
                        found.append(f"{path.relative_to(ROOT)}:{lineno}: {funcname}(…) of a variable")
    assert not found, "messages built at run time:\n" + "\n".join(found)


def test_the_check_sees_a_call_on_a_variable() -> None:
    source = 'gettext("Pay")\ngettext(exc.message)\n_(f"Pay {amount}")\nN_("A")\nt.gettext(m)\n'
    assert _non_literal_calls_in_python(source) == [
        "2: gettext(exc.message)",
        "3: _(f'Pay {amount}')",
        "5: t.gettext(m)",
    ]
    template = list(babel_extract(io.BytesIO(b'{{ _("Pay") }} {{ _(group.kind) }}'), DEFAULT_KEYWORDS, [], {}))
    assert [m for _l, _f, m, _c in template] == ["Pay", None]
