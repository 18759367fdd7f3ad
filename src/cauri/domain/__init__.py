"""The business rules: no web framework, no database. Tests call these modules directly."""
