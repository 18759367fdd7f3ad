"""The operations of the gateway, one module per feature. Every face (API, checkout, CLI, workers) calls
these; none of them touches the store. Each operation takes a unit of work and typed values and returns
typed values."""
