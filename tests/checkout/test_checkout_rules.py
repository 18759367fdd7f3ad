"""Pure rules of the checkout: what a payment may offer, where the customer goes back, what they type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from cauri.domain.checkout import offered_methods, price_methods, return_url_for
from cauri.domain.methods import CATALOGUE
from cauri.domain.payer import expiry_valid, luhn_valid, normalize_phone
from cauri.domain.rates import Rate, RateSource
from cauri.i18n import choose_language, format_money


def test_return_url_keeps_the_merchants_parameters_and_fragment() -> None:
    url = return_url_for("https://shop.example/back?order=12&paymentStatus=forged#top", "py_1", "success")
    parts = urlsplit(url)
    assert parts.fragment == "top"
    assert parse_qsl(parts.query) == [
        ("order", "12"), ("paymentId", "py_1"), ("paymentStatus", "success"),
        ("monerooPaymentId", "py_1"), ("monerooPaymentStatus", "success"),
    ]  # fmt: skip


def test_offered_methods_intersect_every_restriction() -> None:
    base = {"currency": "XOF", "methods": None, "restrict_country_code": None, "restricted_phone": None}
    everything = {m.code for m in offered_methods(base, None)}
    assert {"mtn_bj", "wave_sn", "card_xof"} <= everything and "mtn_gh" not in everything
    in_ci = {m.code for m in offered_methods({**base, "restrict_country_code": "CI"}, None)}
    assert in_ci == {"card_xof", "crypto_xof", "moov_ci", "mtn_ci", "orange_ci", "wave_ci"}
    phone = {m.code for m in offered_methods({**base, "restricted_phone": {"number": "1", "country_code": "BJ"}}, None)}
    assert phone == {"moov_bj", "mtn_bj"}
    listed = {m.code for m in offered_methods({**base, "methods": ["mtn_bj", "mtn_gh"]}, ["mtn_bj", "wave_sn"])}
    assert listed == {"mtn_bj"}


def test_methods_in_another_currency_are_candidates_only_when_the_payment_names_them() -> None:
    seed = {"currency": "USD", "methods": ["qr_ngn", "bank_transfer_ngn", "card_usd"], "restrict_country_code": None,
            "restricted_phone": None}  # fmt: skip
    assert [m.code for m in offered_methods(seed, None)] == ["card_usd"]
    named = [m.code for m in offered_methods(seed, None, other_currencies=True)]
    assert named == ["qr_ngn", "bank_transfer_ng", "card_usd"]  # the alias resolved
    unnamed = {m.currency for m in offered_methods({**seed, "methods": None}, None, other_currencies=True)}
    assert unnamed == {"USD"}  # without a list, a dollar price does not list every naira method
    assert [m.code for m in offered_methods(seed, ["qr_ngn"], other_currencies=True)] == ["qr_ngn"]


def test_pricing_keeps_the_payments_currency_and_what_a_rate_reaches() -> None:
    methods = [CATALOGUE.payment_methods[c] for c in ("qr_ngn", "card_usd", "mtn_gh")]
    usd_ngn = Rate("USD", "NGN", Decimal("1550.25"), RateSource.OPERATOR, datetime(2026, 11, 25, tzinfo=UTC))
    priced = price_methods(100, "USD", methods, {"NGN": usd_ngn, "GHS": None}, Decimal("0.01"))
    assert [m.code for m in priced.methods] == ["qr_ngn", "card_usd"]
    assert {code: c.amount for code, c in priced.conversions.items()} == {"qr_ngn": 156_575}  # 156,575.25
    assert priced.unpriced == ("GHS",)


def test_phone_numbers() -> None:
    assert normalize_phone("+225 07 07 07 07 07", "CI", sandbox=False) == "2250707070707"
    assert normalize_phone("07 07 07 07 07", "CI", sandbox=False) == "2250707070707"
    assert normalize_phone("2250707070707", "CI", sandbox=False) == "2250707070707"  # digits, no "+"
    assert normalize_phone("+233 24 000 0000", "CI", sandbox=False) is None  # a Ghanaian number for an Ivorian method
    assert normalize_phone("4149518161", "BJ", sandbox=True) == "2294149518161"  # read in the method's country
    assert normalize_phone("+4149518161", None, sandbox=True) == "4149518161"
    assert normalize_phone("22994149518161", "BJ", sandbox=True) == "22994149518161"  # already international
    assert normalize_phone("4149518161", "BJ", sandbox=False) is None
    assert normalize_phone("call me", "BJ", sandbox=True) is None


def test_cards() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("42424242")
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert expiry_valid("11/26", now) and expiry_valid("12/2030", now)
    assert not expiry_valid("10/26", now) and not expiry_valid("13/30", now) and not expiry_valid("1230", now)


def test_language_and_money() -> None:
    assert choose_language("en", "fr", "fr-FR") == "en"
    assert choose_language(None, "en", "fr-FR") == "en"
    assert choose_language(None, None, "en-GB,en;q=0.9") == "en"
    assert choose_language("de", None, "de-DE") == "fr"
    assert format_money(5000, "XOF", "fr") == "5\u202f000\u00a0F\u202fCFA"
    assert format_money(1500, "USD", "en") == "$1,500"
