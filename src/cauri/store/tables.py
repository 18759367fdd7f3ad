"""The schema, as SQLAlchemy Core tables: the single description that migrations and queries share."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Timestamps are stored timezone-aware in UTC.
UTCDateTime = DateTime(timezone=True)

apps = Table(
    "apps",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("website_url", Text, nullable=True),
    Column("icon_url", Text, nullable=True),
    Column("is_enabled", Boolean, nullable=False, default=True),
    # Requests per minute per key; 0 means unlimited.
    Column("rate_limit", Integer, nullable=False),
    Column("expiry_minutes", Integer, nullable=False),
    # Payment method codes the app offers; null offers every method of the catalogue.
    Column("enabled_methods", JSON, nullable=True),
    # Emails: the customer's receipt, the merchant's notice (to notify_email), notices of failures too.
    Column("notify_email", String(254), nullable=True),
    Column("send_receipts", Boolean, nullable=False, server_default=true()),
    Column("send_notices", Boolean, nullable=False, server_default=true()),
    Column("notify_failures", Boolean, nullable=False, server_default=false()),
    # The correction margin on converted payments: a fraction as exact decimal text ("0.025" is 2.5 %).
    Column("rate_margin", String(16), nullable=False, server_default="0"),
    # The merchant's notices' language ("fr", "en"); null: the server's CAURI_MERCHANT_LANGUAGE.
    Column("notice_language", String(2), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False, index=True),
    Column("environment", String(8), nullable=False),
    # SHA-256 of the whole secret; the secret itself is never stored.
    Column("secret_hash", LargeBinary(32), nullable=False, unique=True),
    Column("display_prefix", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when a rotation gives the key a grace period, or on revocation (then equal to the revocation time).
    Column("expires_at", UTCDateTime, nullable=True),
    # Written at most once a minute per key and process (see services/apps.py::KeyUsage), not per request.
    Column("last_used_at", UTCDateTime, nullable=True),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(155), nullable=False),
    Column("return_url", Text, nullable=False),
    Column("customer_email", String(254), nullable=False),
    Column("customer", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("methods", JSON, nullable=True),
    Column("restrict_country_code", String(2), nullable=True),
    Column("restricted_phone", JSON, nullable=True),
    Column("is_processed", Boolean, nullable=False, default=False),
    Column("processed_at", UTCDateTime, nullable=True),
    Column("initiated_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The list endpoint pages newest first within one app and environment.
    Index(None, "app_id", "environment", "created_at", "id"),
    Index(None, "app_id", "environment", "customer_email"),
)

events = Table(
    "events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("type", String(32), nullable=False),
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=True, index=True),
    Column("data", JSON, nullable=False),
    # An event is about a payment or about a payout (defined below).
    Column("payout_id", String(32), ForeignKey("payouts.id"), nullable=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Scoped per app and environment: a sandbox key never replays a live response.
    Column("app_id", String(26), ForeignKey("apps.id"), primary_key=True),
    Column("environment", String(8), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", LargeBinary(32), nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=False, index=True),
    Column("method", String(32), nullable=False),
    Column("connector", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("phone", String(32), nullable=True),
    # Cards: only what a receipt shows; the number itself never reaches the database.
    Column("card_last4", String(4), nullable=True),
    Column("provider_reference", String(64), nullable=True),
    Column("next_action", JSON, nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("locale", String(8), nullable=True),
    # A method in another currency than the payment's: the rate locked when the attempt started (exact decimal
    # text, units of currency_debited per unit of the payment's), the app's margin then, what the customer pays.
    Column("rate", String(80), nullable=True),
    Column("correction_rate", String(16), nullable=True),
    Column("amount_debited", BigInteger, nullable=True),
    Column("currency_debited", String(3), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    # The reconciliation job's claim: no two workers ask the provider about one attempt at once.
    Column("locked_until", UTCDateTime, nullable=True),
    # How routing chose the connector: each provider account tried or skipped, and why (null: none recorded).
    Column("routing", JSON, nullable=True),
    Index(None, "status", "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("url", Text, nullable=False),
    # The signing secret, encrypted with a key derived from CAURI_SECRET_KEY (it must be read back to sign).
    Column("secret_encrypted", LargeBinary, nullable=False),
    # "*" or a comma-separated list of event types: a LIKE filters it on both databases.
    Column("event_types", Text, nullable=False),
    Column("is_enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "app_id", "environment"),
)

deliveries = Table(
    "deliveries",
    metadata,
    # "{event id}:{endpoint id}": one delivery per event and endpoint, whoever writes it.
    Column("id", String(80), primary_key=True),
    Column("event_id", String(32), ForeignKey("events.id"), nullable=False),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    # A worker's claim: another may take the delivery once the lease has passed (the worker died).
    Column("locked_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("delivery_id", String(80), ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", SmallInteger, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=True),  # the first KB of the answer
    Column("error", Text, nullable=True),
)

emails = Table(
    "emails",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("event_id", String(32), ForeignKey("events.id"), nullable=False, index=True),
    # receipt (to the customer), notice or endpoint_disabled (to the merchant)
    Column("kind", String(32), nullable=False),
    Column("to_address", String(254), nullable=False),
    Column("status", String(16), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(155), nullable=False),
    Column("method", String(32), nullable=False),
    # What the method pays to: {"msisdn": …} or {"account_number": …}.
    Column("recipient", JSON, nullable=False),
    Column("customer_email", String(254), nullable=False),
    Column("customer", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    # The connector chosen at initialize; only its notifications may end the payout.
    Column("connector", String(32), nullable=False),
    Column("provider_reference", String(64), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("initiated_at", UTCDateTime, nullable=False),
    Column("pending_at", UTCDateTime, nullable=True),
    Column("success_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The reconciliation job's claim: no two workers send a payout or ask about it at once.
    Column("locked_until", UTCDateTime, nullable=True),
    Index(None, "app_id", "environment", "created_at", "id"),
    Index(None, "status", "updated_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=False, index=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(255), nullable=True),
    # The connector that took the payment, and the attempt that paid: the refund goes back the same way.
    Column("connector", String(32), nullable=False),
    Column("attempt_id", String(32), ForeignKey("attempts.id"), nullable=False),
    Column("provider_reference", String(64), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    # The reconciliation job's claim: no two workers send a refund or ask about it at once.
    Column("locked_until", UTCDateTime, nullable=True),
    Index(None, "status", "updated_at"),
)

# The ledger: double-entry rows per app, environment and currency, written in the transaction of the change
# that moves the money; every change's rows sum to zero. ``balances`` keeps each account's running total, and
# its row is what a payout or refund takes a guarded update on (so two cannot both spend the same money).
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    # customers (where collected money comes from), available, refunded, paid_out
    Column("account", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed: an entry and its counterpart cancel out
    # What moved the money: payment.collected, refund.reserved, refund.released, payout.reserved…
    Column("kind", String(32), nullable=False),
    Column("subject_id", String(32), nullable=False),  # the payment, refund or payout
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "app_id", "environment", "currency"),
    Index(None, "subject_id"),
)

balances = Table(
    "balances",
    metadata,
    Column("app_id", String(26), ForeignKey("apps.id"), primary_key=True),
    Column("environment", String(8), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("collected", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("paid_out", BigInteger, nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Exchange rates set by the operator or a feed (the legal pegs are in the domain, never stored): one row per
# pair and source, replaced when set again. The rate is its exact decimal text: neither database's numeric type
# round-trips a Decimal unchanged through both drivers.
rates = Table(
    "rates",
    metadata,
    Column("base", String(3), primary_key=True),
    Column("quote", String(3), primary_key=True),
    Column("source", String(8), primary_key=True),  # operator, feed
    Column("rate", String(32), nullable=False),  # units of quote per unit of base
    Column("set_at", UTCDateTime, nullable=False),
)

# Merchants' accounts at real providers, per app and environment. An account removed keeps its row (disabled):
# its attempts, refunds and late notifications still name it.
provider_accounts = Table(
    "provider_accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), nullable=False),
    Column("environment", String(8), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("label", String(100), nullable=False),
    # The credentials as JSON, sealed with a key derived from CAURI_SECRET_KEY and bound to the account's id.
    Column("credentials_encrypted", LargeBinary, nullable=False),
    Column("sandbox", Boolean, nullable=False),  # the provider's own sandbox
    Column("base_url", Text, nullable=True),
    Column("methods", JSON, nullable=False),  # the payment method codes routed to it
    Column("priority", Integer, nullable=False),  # routing tries lower first
    Column("is_enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "app_id", "environment"),
)
# The dashboard's people: each user has a role and belongs to some apps; a login is a server-side session row
# keyed by the SHA-256 of a random token that only the browser's cookie holds.
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # normalized: lower-case
    Column("password_hash", Text, nullable=False),  # argon2id, with its parameters and salt
    Column("role", String(16), nullable=False),  # owner, developer, viewer
    # The TOTP secret, sealed like webhook secrets (it must be read back to check a code).
    Column("totp_secret_encrypted", LargeBinary, nullable=True),
    # The last time step a code was accepted for: a code is never accepted twice.
    Column("totp_last_step", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

user_apps = Table(
    "user_apps",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("app_id", String(26), ForeignKey("apps.id"), primary_key=True),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),  # idle expiry
    Column("expires_at", UTCDateTime, nullable=False),  # absolute expiry
)

# Failed logins, per account and per address ("account:<email>", "address:<ip>"): counted over a window by
# every process, so a throttle holds however many servers share the database.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("subject", String(300), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Index(None, "subject", "failed_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=True),  # null: the command line
    Column("actor", String(254), nullable=False),  # the user's email then, or "cli"
    Column("action", String(64), nullable=False),
    Column("app_id", String(26), nullable=True),
    Column("target", String(100), nullable=True),
    Column("details", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at", "id"),
    Index(None, "app_id", "created_at"),
)

# The dashboard's payments list filtered by status pages newest first on its own index.
Index("ix_payments_app_id_environment_status_created_at", payments.c.app_id, payments.c.environment,
      payments.c.status, payments.c.created_at, payments.c.id)  # fmt: skip

#: Indexes on expressions that one database alone has, made by migration 0012: PostgreSQL's GIN over the
#: payments' metadata (any key=value), SQLite's over their order id.
PG_METADATA_INDEX = "ix_payments_metadata_gin"
SQLITE_ORDER_ID_INDEX = "ix_payments_app_id_environment_order_id"
DIALECT_INDEXES = frozenset({PG_METADATA_INDEX, SQLITE_ORDER_ID_INDEX})
