"""Service providers: whoever credits a ktpay service (mobile, utilities, transport)."""
