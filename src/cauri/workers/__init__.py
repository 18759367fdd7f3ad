"""Background work, each kind claiming its rows with a lease: the webhook dispatcher, the mailer, and the
jobs (expiry, reconciliation, idempotency purge). ``cauri worker`` runs them; so does ``cauri serve`` on the
embedded default."""
