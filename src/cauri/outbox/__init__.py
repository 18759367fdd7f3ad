"""The outbox: what state changes owe the outside world (webhooks), sent after they commit."""
