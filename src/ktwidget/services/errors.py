"""What a use case can refuse, each carrying what an RFC 9457 problem document needs."""

from __future__ import annotations

from collections.abc import Sequence

from ktwidget.domain.params import FieldError


class GatewayError(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedRequest(GatewayError):
    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class PayloadNotOpened(GatewayError):
    status = 400
    slug = "payload-not-opened"
    title = "Payload does not open with this app's key"


class NotFound(GatewayError):
    status = 404
    slug = "not-found"
    title = "Not found"


class UnknownApp(NotFound):
    slug = "unknown-app"
    title = "Unknown app_id"


class UntrustedOrigin(GatewayError):
    status = 403
    slug = "untrusted-origin"
    title = "Origin is not a trusted domain of this merchant"


class MerchantDisabled(GatewayError):
    status = 403
    slug = "merchant-disabled"
    title = "Merchant is disabled"


class OrderConflict(GatewayError):
    status = 409
    slug = "order-conflict"
    title = "order_id already used"


class InvalidParameters(GatewayError):
    status = 422
    slug = "invalid-parameters"
    title = "Invalid transaction parameters"

    def __init__(self, detail: str, errors: Sequence[FieldError]) -> None:
        super().__init__(detail)
        self.errors = list(errors)


class PayloadTooLarge(GatewayError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class RateLimited(GatewayError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class AcquirerUnavailable(GatewayError):
    status = 503
    slug = "acquirer-unavailable"
    title = "No production acquirer is configured"


class OperatorError(Exception):
    """A CLI/operator request that cannot be done; the message is for the operator."""
