"""Text from merchants and customers: what may be stored, and how to show it where a line break or an escape
sequence would do harm (a mail header, a terminal)."""

from __future__ import annotations

import re

#: C0 and C1 controls (NUL, CR, LF, ESC, DEL…), the Unicode line and paragraph separators, and the lone
#: surrogates a command line's undecodable bytes become: none belongs in a name or a one-line value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None
