"""One typed settings object, read from ``CAURI_*`` environment variables."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cauri.domain.ledger import DEFAULT_SANDBOX_CREDIT
from cauri.private_files import private_directory, tighten, write_private_once

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(setting: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 172.16.0.0/12"`` -> its networks; a ``ValueError`` naming the entry that is not one."""
    found: list[Network] = []
    for entry in (part.strip() for part in setting.split(",")):
        if entry:
            try:
                found.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is neither an IP address nor a network (CIDR)") from exc
    return tuple(found)


class Settings(BaseSettings):
    # A refused value is never echoed in the error: it may be a token or a password with a typo.
    model_config = SettingsConfigDict(env_prefix="CAURI_", extra="ignore", hide_input_in_errors=True)

    #: The SQLite database, the secret key and mail written as files: made 0700 (its files 0600) when created,
    #: and tightened to that when Cauri starts.
    data_dir: Path = Path(".cauri")
    #: Empty means the embedded default: a SQLite file under ``data_dir``.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    #: The URL customers and merchants reach this gateway at; derived from host and port when empty.
    public_url: str = ""
    log_level: str = "info"
    #: Reverse proxies (IPs or CIDR networks, comma-separated) whose ``X-Forwarded-For`` and
    #: ``X-Forwarded-Proto`` are believed; empty trusts nobody, and those headers are ignored.
    trusted_proxies: str = ""
    #: Strict-Transport-Security's max-age on answers served over HTTPS; 0 sends none.
    hsts_seconds: int = Field(default=0, ge=0)
    #: Failed API authentications (an unknown, expired or revoked key) an address may make per minute before
    #: its requests get 429 without a lookup; 0 disables the throttle.
    auth_failures_per_minute: int = Field(default=20, ge=0)
    #: Requests with a larger body are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    #: A request body must have arrived whole within this long (408 otherwise).
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    #: How long a verified API key stays trusted in a process's memory (revocation takes this long to reach
    #: every process); 0 disables the cache.
    key_cache_seconds: float = Field(default=5.0, ge=0)
    #: How long an old key keeps working after ``cauri keys rotate``.
    key_rotation_grace_hours: float = Field(default=24.0, ge=0)
    #: Idempotency records are kept (and replayed) this long.
    idempotency_ttl_hours: float = Field(default=24.0, gt=0)
    #: Default rate limit for new apps, in requests per minute per key (Moneroo's is 120); 0 disables it.
    default_rate_limit: int = Field(default=120, ge=0)
    #: Default delay before an unpaid payment is cancelled, in minutes (Moneroo's is about 10).
    default_expiry_minutes: int = Field(default=10, gt=0)
    #: PostgreSQL: the longest a request waits on a row lock held by another request before giving up.
    lock_timeout_ms: int = Field(default=2000, gt=0)
    #: Signs connector notifications and checkout form tokens. Empty: a random key kept in the data directory
    #: (set it explicitly when several hosts share one database).
    secret_key: str = ""
    #: How long the sandbox provider takes to notify an outcome.
    sandbox_delay_seconds: float = Field(default=2.0, ge=0)
    #: A sandbox app's credit, per currency: how far below zero its available balance may go, so that payouts
    #: and refunds can be tried before anything is collected (live, nothing beyond what is available).
    sandbox_balance: int = Field(default=DEFAULT_SANDBOX_CREDIT, ge=0)
    #: A provider account whose attempts failed this many times in a row is skipped by routing (its circuit
    #: opens) for ``breaker_cooldown_seconds``; then one attempt probes it. Kept per server process.
    breaker_failures: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, ge=0)
    #: Attempts still pending after this long are asked about (reconciliation), and expiry is checked, this often.
    reconcile_every_seconds: float = Field(default=30.0, gt=0)
    reconcile_after_seconds: float = Field(default=120.0, ge=0)
    #: How long a worker holds the attempts it asks providers about: another worker asks again only after.
    reconcile_lease_seconds: float = Field(default=300.0, gt=0)
    #: The webhook dispatcher runs inside ``cauri serve`` too (``cauri worker`` runs it alone).
    dispatcher_in_serve: bool = True
    #: How often an idle dispatcher looks for due deliveries (the floor of webhook latency).
    dispatcher_poll_seconds: float = Field(default=0.1, gt=0)
    dispatcher_batch: int = Field(default=50, gt=0)
    #: A claimed delivery returns to the pool after this long if its worker died.
    dispatcher_lease_seconds: float = Field(default=60.0, gt=0)
    #: The most a webhook try may take, from resolving the host to the answer's first KB.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Webhooks one dispatcher sends at once to one endpoint: a hanging endpoint holds this many of the
    #: ``dispatcher_batch`` slots (and its own connection pool), never the others'. It also bounds one
    #: endpoint's throughput (bench/webhooks.py, one endpoint on loopback: 4 -> ~290/s, 8 -> ~440/s).
    webhook_endpoint_concurrency: int = Field(default=8, gt=0)
    #: Multiplies the retry schedule (tests compress it; 1.0 is ~3 days).
    webhook_retry_scale: float = Field(default=1.0, gt=0)
    #: Live apps' webhooks may target loopback or private addresses only when this is set.
    webhooks_allow_private: bool = False
    #: Operator-set and feed exchange rates are used this long after they were set, never after (the legal
    #: pegs of XOF and XAF to the euro never age).
    rate_max_age_hours: float = Field(default=24.0, gt=0)
    #: Where to fetch exchange rates from, as ``{"base": "USD", "rates": {"NGN": "1550.25"}}`` (empty: no feed);
    #: fetched every ``rates_feed_every_seconds``. An operator's fresh rate wins over the feed's.
    rates_feed_url: str = ""
    rates_feed_every_seconds: float = Field(default=3600.0, gt=0)
    #: Outgoing mail. With no host, messages are written as .eml files under ``data_dir/mail`` instead.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "Cauri <no-reply@cauri.invalid>"
    #: Merchants' notices are written in this language; customers' receipts in the one they paid in.
    merchant_language: str = Field(default="fr", pattern="^(fr|en)$")
    #: PostgreSQL connections each process keeps open.
    db_pool_size: int = Field(default=20, gt=0)
    #: Prometheus metrics at ``/metrics``. On by default: they carry counts and route templates, no payment
    #: data, and the default address is loopback; on a public address set ``metrics_token`` or block the path.
    metrics_enabled: bool = True
    #: When set, ``/metrics`` wants ``Authorization: Bearer <token>``.
    metrics_token: str = ""
    #: The gateway's operator (not a merchant: rates are the same for every app) sets exchange rates over the API
    #: (``PUT /v1/rates/{base}/{quote}``) with ``Authorization: Bearer <token>``; empty, that API is off.
    operator_token: str = Field(default="", pattern=r"^$|^[\x21-\x7e]{32,}$")
    #: ``/readyz`` and the scrape's backlog query give up on the database after this long.
    health_timeout_seconds: float = Field(default=2.0, gt=0)
    #: SQLite's durability. ``normal``: in WAL mode a commit is in the log before the request is answered,
    #: so it survives a crash or ``kill -9`` of the process, but the last commits may be lost on a power loss
    #: or kernel crash. ``full``: an fsync per commit, which survives those too, at a cost in throughput.
    #: (Writes wait up to ``lock_timeout_ms`` for a write lock another process holds, then answer 503.)
    sqlite_synchronous: str = Field(default="normal", pattern="^(normal|full)$")

    #: The dashboard: a session ends after this long without a request, and after ``dashboard_session_hours``
    #: whatever happens.
    dashboard_idle_minutes: float = Field(default=30.0, gt=0)
    dashboard_session_hours: float = Field(default=12.0, gt=0)
    #: Failed logins allowed per account and per address within ``dashboard_login_window_minutes``; past them,
    #: logins are refused (even with the right password) until the window has passed.
    dashboard_failures_per_account: int = Field(default=5, gt=0)
    dashboard_failures_per_address: int = Field(default=20, gt=0)
    dashboard_login_window_minutes: float = Field(default=15.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start-up rather than trusting nobody in silence
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: the embedded SQLite file, or the configured URL with an async driver."""
        url = self.database_url.strip()
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'cauri.db').resolve()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def secret(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        path = private_directory(self.data_dir) / "secret_key"
        if path.exists():
            tighten(path)
        else:
            write_private_once(path, secrets.token_urlsafe(32).encode())
        return path.read_text().strip().encode()

    @property
    def internal_url(self) -> str:
        """Where this process reaches itself (connector notifications from the sandbox)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def public_https(self) -> bool:
        """Customers reach the gateway over HTTPS: cookies are Secure, HSTS may be sent."""
        return self.resolved_public_url.lower().startswith("https://")
