"""Text from merchants and customers: what may be stored, and how to show it where a line break or an escape
sequence would do harm (a mail header, a terminal)."""

from __future__ import annotations

import re

#: C0 and C1 controls (NUL, CR, LF, ESC, DEL…), the Unicode line and paragraph separators, and the lone
#: surrogates a command line's undecodable bytes become: none belongs in a name or a one-line value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_RUN = re.compile(_CONTROL.pattern + "+")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def storable(texts: tuple[tuple[object, int], ...]) -> bool:
    """Whether each (text, limit) of a provider's notification is None or one line of text within its limit:
    even a signed notification must not carry a NUL (which PostgreSQL cannot store), a non-text or a value
    longer than its column into the database."""
    return all(
        text is None or (isinstance(text, str) and len(text) <= limit and not has_control_characters(text))
        for text, limit in texts
    )


def one_line(text: str) -> str:
    """``text`` with each run of control characters (line breaks included) made one space, for a mail header
    built from stored text that was validated when stored (or not, on an older row)."""
    return _CONTROL_RUN.sub(" ", text).strip()


def visible(text: str) -> str:
    """``text`` with its control characters spelt out (``\\x1b``, ``\\u2028``), for a terminal: an escape
    sequence in a name is shown, not obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)
