"""The sandbox's test numbers: which phone or card gives which outcome (the README's tables). The failure
messages are ``N_`` literals: the checkout page and the mail translate them where they show them."""

from __future__ import annotations

from cauri.domain.attempts import AttemptStatus
from cauri.domain.messages import N_
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus

#: Phone numbers (any country: the number's last ten digits decide), as the contract's table says.
TEST_PHONES: dict[str, tuple[AttemptStatus, str | None]] = {
    "4149518161": (AttemptStatus.SUCCESS, None),
    "4149518162": (AttemptStatus.FAILED, N_("The customer declined the payment on their phone.")),
    "4149518163": (AttemptStatus.PENDING, None),
}
#: Test cards; any other number is declined as unknown.
TEST_CARDS: dict[str, tuple[AttemptStatus, str | None]] = {
    "4242424242424242": (AttemptStatus.SUCCESS, None),
    "5555555555554444": (AttemptStatus.SUCCESS, None),
    "4000000000000002": (AttemptStatus.FAILED, N_("The card was declined.")),
    "4000000000009995": (AttemptStatus.FAILED, N_("Insufficient funds.")),
    "4000000000000259": (AttemptStatus.PENDING, None),
}

#: Payouts in the sandbox, as on Moneroo's: the recipient's last ten digits decide (msisdn or account number);
#: any other number fails with Moneroo's own message.
TEST_PAYOUT_NUMBERS: dict[str, tuple[PayoutStatus, str | None]] = {
    "4149518161": (PayoutStatus.SUCCESS, None),
    "4149518162": (PayoutStatus.FAILED, "The recipient's provider declined the test payout."),
    "4149518163": (PayoutStatus.PENDING, None),
}
INVALID_TEST_PAYOUT = "This is a failed test payout, you do not use valid test phone number."

#: Refunds in the sandbox: the last ten digits of the payment's ``customer.phone`` (given at initialize) decide,
#: with the same test numbers. Not the payer's number: ...62 and ...63 never pay, so they could never be
#: refunded. Any other number, or none, refunds successfully.
TEST_REFUND_NUMBERS: dict[str, tuple[RefundStatus, str | None]] = {
    "4149518161": (RefundStatus.SUCCESS, None),
    "4149518162": (RefundStatus.FAILED, "The provider declined the test refund."),
    "4149518163": (RefundStatus.PENDING, None),
}

__all__ = ["INVALID_TEST_PAYOUT", "TEST_CARDS", "TEST_PAYOUT_NUMBERS", "TEST_PHONES", "TEST_REFUND_NUMBERS"]
