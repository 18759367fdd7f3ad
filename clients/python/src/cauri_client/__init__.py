"""A Python client for Moneroo's v1 payments and payouts API, served by Moneroo or by a self-hosted Cauri.

from cauri_client import Client

with Client("pvk_sandbox_…", base_url="http://127.0.0.1:8000/v1") as cauri:
    payment = cauri.payments.initialize(amount=5000, currency="XOF", description="Order #42",
                                        return_url="https://shop.example/return",
                                        customer={"email": "awa@example.com", "first_name": "Awa",
                                                  "last_name": "Dossou"})
    # redirect the customer to payment.checkout_url; on return:
    assert cauri.payments.verify(payment.id).is_paid
"""

from cauri_client._client import DEFAULT_BASE_URL, AsyncClient, Client
from cauri_client._errors import (
    APIConnectionError,
    AuthenticationError,
    CauriError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
    WebhookVerificationError,
)
from cauri_client._models import Balance, InitializedPayment, InitializedPayout, Payment, Payout, Refund
from cauri_client._webhooks import verify_webhook

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "AsyncClient",
    "AuthenticationError",
    "Balance",
    "CauriError",
    "Client",
    "ConflictError",
    "InitializedPayment",
    "InitializedPayout",
    "NotFoundError",
    "Payment",
    "Payout",
    "RateLimitError",
    "Refund",
    "ServerError",
    "ValidationError",
    "WebhookVerificationError",
    "verify_webhook",
]
