"""HTTP: the widget API, problem documents, CORS, rate limits, security headers."""
