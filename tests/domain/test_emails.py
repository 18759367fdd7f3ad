"""The fast path for plain addresses never disagrees with email-validator."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cauri.domain.emails import InvalidEmail, normalize_email

local = st.text(alphabet="abcXYZ019.!#$%&'*+/=?^_`{|}~-\"( ", min_size=0, max_size=70)
domain = st.text(alphabet="abcXYZ019.-_", min_size=0, max_size=40)
tld = st.sampled_from(["com", "CO", "bj", "test", "local", "c", "123", "x-y", "", "onion", "arpa"])


@settings(max_examples=2000)
@given(local, domain, tld)
@example("awa.b", "Example", "COM")
@example("a", "x", "test")
@example("a..b", "x", "com")
@example("a", "-x", "com")
@example("a", "x.localhost", "com")
def test_fast_path_agrees_with_email_validator(user: str, host: str, top: str) -> None:
    address = f"{user}@{host}.{top}" if top else f"{user}@{host}"
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalize_email(address)
    except InvalidEmail:
        got = None
    assert got == expected


@pytest.mark.parametrize("address", ["aïcha@exemple.sn", "user@bücher.de"])
def test_international_addresses_go_through_email_validator(address: str) -> None:
    assert normalize_email(address) == validate_email(address, check_deliverability=False).normalized
