"""Marking the texts people read where they are written, so Babel extracts them (``make messages``)."""

from __future__ import annotations


def N_(message: str) -> str:  # the name extractors look for by default
    """Mark ``message`` for extraction without translating it: it is translated later, where it is shown
    (``cauri.i18n.translate``), in the reader's language."""
    return message
