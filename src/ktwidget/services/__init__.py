"""The service layer: one function per use case, each running in one database transaction."""
