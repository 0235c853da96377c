"""ktwidget: a self-hosted payment-widget gateway and its Python SDK."""
