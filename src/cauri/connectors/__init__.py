"""Connectors: the adapters to payment providers, all behind one interface (``base.Connector``)."""
