"""The Moneroo-compatible JSON API."""
