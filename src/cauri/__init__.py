"""Cauri: a self-hostable payment gateway, wire-compatible with Moneroo's v1 Standard API."""

__version__ = "0.1.0"
