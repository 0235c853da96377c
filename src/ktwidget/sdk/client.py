"""`ApiClient` and `AsyncApiClient`: the widget's ``createTransaction`` for Python merchants.

Both build their requests and read the answers through `ktwidget.sdk._protocol`; they differ only
in how the bytes travel. Pass amounts as `int` or `decimal.Decimal` (``Decimal("10.50")``); a
`float` is accepted and taken by its shortest decimal form (``10.5`` -> ``Decimal("10.5")``), never
through float arithmetic, but a float you computed may not be the amount you meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from ktwidget.domain.params import TransactionType
from ktwidget.sdk import _protocol
from ktwidget.sdk.errors import TransportError
from ktwidget.sdk.models import CreatedTransaction, TransactionInfo

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
Amount = int | Decimal | float
Kind = Literal["ecom", "service"] | TransactionType


class _Base:
    def __init__(self, app_key: str, app_id: str, test_mode: bool) -> None:
        _protocol.check_credentials(app_key, app_id, test_mode)
        self.app_key = app_key
        self.app_id = app_id
        self.test_mode = test_mode

    def _create_call(
        self,
        *,
        order_id: str,
        amount: Amount,
        type: Kind,
        service: Mapping[str, Any] | None,
        callback_back_url: str | None,
        callback_success_url: str | None,
        callback_failed_url: str | None,
        callback_post_url: str | None,
        description: str | None,
    ) -> _protocol.Call[CreatedTransaction]:
        return _protocol.create_call(
            app_key=self.app_key,
            app_id=self.app_id,
            test_mode=self.test_mode,
            params={
                "order_id": order_id,
                "amount": amount,
                "type": type,
                "service": service,
                "callback_back_url": callback_back_url,
                "callback_success_url": callback_success_url,
                "callback_failed_url": callback_failed_url,
                "callback_post_url": callback_post_url,
                "description": description,
            },
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(app_id={self.app_id!r}, test_mode={self.test_mode!r})"


class ApiClient(_Base):
    """Creates transactions on a ktwidget gateway; use it as a context manager or `close` it.

    ``create_transaction`` checks the parameters with the gateway's own validator before sending
    (`InvalidParameters` with ``local=True``), seals them for ``app_key`` and posts them. It is
    idempotent by ``order_id``: repeating a call after a `TransportError` is safe.
    """

    def __init__(
        self,
        app_key: str,
        app_id: str,
        test_mode: bool = True,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(app_key, app_id, test_mode)
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def create_transaction(
        self,
        *,
        order_id: str,
        amount: Amount,
        type: Kind,
        service: Mapping[str, Any] | None = None,
        callback_back_url: str | None = None,
        callback_success_url: str | None = None,
        callback_failed_url: str | None = None,
        callback_post_url: str | None = None,
        description: str | None = None,
    ) -> CreatedTransaction:
        call = self._create_call(
            order_id=order_id,
            amount=amount,
            type=type,
            service=service,
            callback_back_url=callback_back_url,
            callback_success_url=callback_success_url,
            callback_failed_url=callback_failed_url,
            callback_post_url=callback_post_url,
            description=description,
        )
        return self._send(call)

    def get_transaction(self, transaction_hash: str) -> TransactionInfo:
        return self._send(_protocol.get_call(transaction_hash))

    def _send(self, call: _protocol.Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, content=call.content, headers=call.headers
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc!r}") from exc
        return call.parse(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncApiClient(_Base):
    """`ApiClient` for asyncio/trio code: the same methods, awaited; ``async with`` or `aclose`."""

    def __init__(
        self,
        app_key: str,
        app_id: str,
        test_mode: bool = True,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(app_key, app_id, test_mode)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def create_transaction(
        self,
        *,
        order_id: str,
        amount: Amount,
        type: Kind,
        service: Mapping[str, Any] | None = None,
        callback_back_url: str | None = None,
        callback_success_url: str | None = None,
        callback_failed_url: str | None = None,
        callback_post_url: str | None = None,
        description: str | None = None,
    ) -> CreatedTransaction:
        call = self._create_call(
            order_id=order_id,
            amount=amount,
            type=type,
            service=service,
            callback_back_url=callback_back_url,
            callback_success_url=callback_success_url,
            callback_failed_url=callback_failed_url,
            callback_post_url=callback_post_url,
            description=description,
        )
        return await self._send(call)

    async def get_transaction(self, transaction_hash: str) -> TransactionInfo:
        return await self._send(_protocol.get_call(transaction_hash))

    async def _send(self, call: _protocol.Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, content=call.content, headers=call.headers
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc!r}") from exc
        return call.parse(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
