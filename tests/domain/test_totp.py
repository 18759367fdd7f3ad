"""TOTP codes as RFC 6238 computes them, accepted once and only near their time."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

from cauri.domain import totp

#: RFC 6238, appendix B: the SHA-1 seed "12345678901234567890"; its 8-digit codes end in these 6 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = {59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924", 2000000000: "279037"}


def test_codes_are_rfc_6238s() -> None:
    for unix_time, code in RFC_VECTORS.items():
        assert totp.hotp(RFC_SECRET, totp.step_at(unix_time)) == code


def test_a_code_is_accepted_one_step_either_side_and_no_further() -> None:
    now = 1_700_000_000.0
    code = totp.hotp(RFC_SECRET, totp.step_at(now))
    assert totp.matching_step(RFC_SECRET, code, now, None) == totp.step_at(now)
    assert totp.matching_step(RFC_SECRET, code, now + 30, None) == totp.step_at(now)
    assert totp.matching_step(RFC_SECRET, code, now - 30, None) == totp.step_at(now)
    assert totp.matching_step(RFC_SECRET, code, now + 90, None) is None


def test_a_code_is_never_accepted_twice() -> None:
    now = 1_700_000_000.0
    step = totp.step_at(now)
    code = totp.hotp(RFC_SECRET, step)
    assert totp.matching_step(RFC_SECRET, code, now, last_step=step) is None
    assert totp.matching_step(RFC_SECRET, code, now, last_step=step - 1) == step


def test_malformed_codes_match_nothing() -> None:
    for code in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5x"):
        assert totp.matching_step(RFC_SECRET, code, 59, None) is None


def test_the_uri_carries_the_secret_for_authenticator_apps() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    uri = urlsplit(totp.otpauth_uri(secret, "awa@example.com"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Cauri:awa@example.com")
    assert parse_qs(uri.query)["secret"] == [secret]
