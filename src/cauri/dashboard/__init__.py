"""The merchant dashboard: server-rendered pages over the services, behind a login."""
