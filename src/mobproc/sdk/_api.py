"""Calls of the MOBPROC v1 API, written once without I/O as the token flow is (:mod:`._flow`):
a call's request with the documented headers, its answer or the typed error its body names, the
retries that are safe, and the walk over a collection's pages. :class:`ApiSession` and
:class:`AsyncApiSession` send them (httpx, with a token session's token on every request) and
answer JSON; :class:`mobproc.Client` reads that JSON into the API's models.

A call is sent again only where that cannot do anything twice:

- a call that changes nothing (``GET``, confirming an order), or whose repetition changes
  nothing: submitting an order, which the API answers with the order first stored under the
  same ``externalOrderNumber``. These are sent again after a transport failure (the answer may
  be lost), a gateway's 502 or 504, and the API's 503 or 429, with backoff and full jitter or
  the server's ``Retry-After``, until the deadline;
- any other call (an approval) only where it provably did nothing: the connection was refused,
  or the API answered 503 or 429. Its lost answer is raised, saying the call may have been
  carried out.

A 500 is not sent again: it is the server's failure, reported with its id.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import SplitResult, urlsplit

import httpx

from .. import headers as documented
from ._api_errors import ApiError, ApiUnreachable, UnexpectedAnswer, error_of
from ._auth import BearerAuth
from ._client import retry_after
from ._endpoints import api_url as api_beside
from ._endpoints import http_url
from ._flow import Action, Outcome, Send, Sleep, drive, drive_async
from ._retry import MIN_TIMEOUT, Retry
from ._session import AsyncTokenSession, TokenSession
from ._store import TokenStore

DEFAULT_TIMEOUT = 30.0
# RFC 9110 §9.2.2: repeating these requests has the effect of sending one.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
UNDONE = frozenset({429, 503})  # the API's own: it did nothing with the call
UNANSWERED = frozenset({502, 504})  # a gateway's: the call may or may not have been carried out
UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

ApiFlow = Generator[Action, Outcome, Any]
_KEEP: Any = object()  # with_context(): this header as it is


@dataclass(frozen=True)
class Context:
    """Whom a call is for, as the documented headers say it: ``tenant`` (``X-TNGO-TENANT``,
    required), the employee to act for (``employee_id``, the system's id, wins over
    ``company_employee_id``, the customer's), ``hierarchy_id``, and the troubleshooting tags:
    ``activity_id`` for a group of related calls, ``correlation_id`` for one call (a fresh one
    for each call when it is ``None``)."""

    tenant: str
    employee_id: str | None = None
    company_employee_id: str | None = None
    hierarchy_id: str | None = None
    activity_id: str | None = None
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # A header value: a line break in it would start another header.
            if value is not None and (not value or len(value) > 255 or not value.isascii() or not value.isprintable()):
                raise ValueError(f"{field.name} must be 1 to 255 printable ASCII characters")

    def headers(self, client_id: str, correlation_id: str) -> dict[str, str]:
        named = ((documented.TENANT_HEADER, self.tenant), (documented.CLIENT_HEADER, client_id),
                 (documented.EMPLOYEE_HEADER, self.employee_id),
                 (documented.COMPANY_EMPLOYEE_HEADER, self.company_employee_id),
                 (documented.HIERARCHY_HEADER, self.hierarchy_id), (documented.ACTIVITY_HEADER, self.activity_id),
                 (documented.CORRELATION_HEADER, correlation_id))
        return {name: value for name, value in named if value is not None}


class ApiEndpoint:
    """One client application at one API: builds a call's request and reads its answer."""

    def __init__(self, base: str, client_id: str, timeout: float) -> None:
        self.base = http_url(base, "api_url must be")
        self.client_id, self.timeout = client_id, timeout
        parts = urlsplit(self.base)
        self._origin, self._path = _origin(parts), parts.path

    def url(self, path: str) -> str:
        """A path of the API (``/orders/12``, or whole: ``/mobproc/v1/orders/12``), or a URL it
        gave (``_meta.hrefNext``), which must lead to this same API: the access token is sent
        nowhere else."""
        if path.startswith(("http://", "https://")):
            target = urlsplit(path)
            if _origin(target) != self._origin or not (target.path + "/").startswith(self._path + "/"):
                raise ValueError(f"{target.scheme}://{target.netloc}{target.path} is not under {self.base}: "
                                 "the access token is sent to this API only")
            return path
        path = "/" + path.lstrip("/")
        if self._path and (path + "/").startswith(self._path + "/"):
            path = path[len(self._path):]
        return self.base + path

    def request(self, method: str, path: str, context: Context, *, params: Mapping[str, Any] | None = None,
                json: Any = None) -> tuple[httpx.Request, str]:
        """The request, and the correlation id it carries."""
        correlation = context.correlation_id or f"mobproc-{secrets.token_hex(8)}"
        headers = {"Accept": "application/json", **context.headers(self.client_id, correlation)}
        present = None if params is None else {name: value for name, value in params.items() if value is not None}
        return httpx.Request(method.upper(), self.url(path), params=present, json=json, headers=headers), correlation

    def exchange(self, request: httpx.Request, correlation_id: str, retry: Retry, repeatable: bool) -> ApiFlow:
        """One call, sent again where that is safe (the module's rules): its JSON answer, or
        the :class:`ApiError` its refusal names."""
        deadline = time.monotonic() + retry.deadline
        attempt = 0
        while True:
            timeout = max(MIN_TIMEOUT, min(self.timeout, deadline - time.monotonic()))
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
            outcome = yield Send(request)
            error: ApiError
            if isinstance(outcome, httpx.TransportError):
                error = ApiUnreachable(None, "unreachable", f"{type(outcome).__name__}: {str(outcome).rstrip('.')}"[:200],
                                       correlation_id=correlation_id)
                error.__cause__ = outcome
                if not (repeatable or isinstance(outcome, UNSENT)):
                    error.message += "; the answer was lost: the call may have been carried out, look before repeating it"
                    raise error
            else:
                assert outcome is not None
                try:
                    return read_answer(outcome, correlation_id)
                except ApiError as refused:
                    if not (refused.status_code in UNDONE or (repeatable and refused.status_code in UNANSWERED)):
                        raise
                    error = refused
            yield Sleep(retry.wait(attempt, error, deadline))
            attempt += 1


def read_answer(response: httpx.Response, correlation_id: str | None) -> Any:
    """A 2xx answer's JSON, or the error a refusal names (:func:`~._api_errors.error_of`)."""
    content_type = response.headers.get("content-type", "")
    try:
        body = response.json() if response.content else None
        parsed = True
    except ValueError:
        body, parsed = None, False
    if 200 <= response.status_code < 300:
        if not parsed:
            raise UnexpectedAnswer(response.status_code, message=f"not JSON ({content_type or 'no content type'})",
                                   correlation_id=correlation_id)
        return body
    raise error_of(response.status_code, body, correlation_id=correlation_id, retry_after=retry_after(response),
                   content_type=content_type)


class Walk:
    """Every item of a collection once, page after page over ``_meta.hrefNext`` (the
    documentation's pagination). An item another call inserted meanwhile shifts the pages by
    one; each item is still handed out once, told apart by its ``_meta.href``."""

    def __init__(self, api: ApiEndpoint, path: str, key: str, params: Mapping[str, Any] | None) -> None:
        self.api, self.key = api, key
        self.next: tuple[str, Mapping[str, Any] | None] | None = (path, params)
        self._seen: set[str] = set()
        self._visited: set[str] = set()

    def take(self, page: Any) -> list[Any]:
        """This page's items not handed out before; and where the next page is."""
        items = page.get(self.key) if isinstance(page, dict) else None
        meta = page.get("_meta") if isinstance(page, dict) else None
        following = meta.get("hrefNext") if isinstance(meta, dict) else None
        if not isinstance(items, list) or not (following is None or isinstance(following, str)):
            raise UnexpectedAnswer(200, message=f"not a page of {self.key}", body=page)
        if following is not None:
            if following in self._visited:
                raise UnexpectedAnswer(200, message=f"_meta.hrefNext leads back to a page read already: {following}")
            try:
                self.api.url(following)
            except ValueError as elsewhere:
                raise UnexpectedAnswer(200, message=f"_meta.hrefNext: {elsewhere}") from None
            self._visited.add(following)
        self.next = None if following is None else (following, None)
        fresh = []
        for item in items:
            own = item.get("_meta") if isinstance(item, dict) else None
            href = own.get("href") if isinstance(own, dict) else None
            if isinstance(href, str):
                if href in self._seen:
                    continue
                self._seen.add(href)
            fresh.append(item)
        return fresh


class _Api:
    """What the sync and async sessions share: the endpoint, the context, the retries."""

    def __init__(self, tokens: TokenSession | AsyncTokenSession, endpoint: str, api_url: str | None, tenant: str,
                 retry: Retry | None, timeout: float | None) -> None:
        self.session = tokens
        self.api = ApiEndpoint(api_url or api_beside(endpoint), tokens.client.client_id,
                               DEFAULT_TIMEOUT if timeout is None else timeout)
        self.context = Context(tenant)
        self.retry = retry or Retry()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.api.base!r}, session={self.session!r}, context={self.context!r})"

    def with_context(
        self, *, tenant: str = _KEEP, employee_id: str | None = _KEEP, company_employee_id: str | None = _KEEP,
        hierarchy_id: str | None = _KEEP, activity_id: str | None = _KEEP, correlation_id: str | None = _KEEP,
    ) -> Self:
        """The same client (its token, its connections) for calls with other headers
        (:class:`Context`; ``None`` leaves one out): ``client.with_context(employee_id="40002")``
        acts for that employee, ``with_context(correlation_id="order-17")`` tags the calls,
        ``with_context(tenant="ABC")`` calls for another tenant (a multitenant account)."""
        changes = {name: value for name, value in locals().items() if name != "self" and value is not _KEEP}
        view = copy.copy(self)
        view.context = dataclasses.replace(self.context, **changes)
        return view

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
              repeatable: bool | None = None) -> ApiFlow:
        request, correlation = self.api.request(method, path, self.context, params=params, json=json)
        safe = request.method in IDEMPOTENT if repeatable is None else repeatable
        return self.api.exchange(request, correlation, self.retry, safe)


class ApiSession(_Api):
    """The MOBPROC v1 API's calls as JSON, for any number of threads: the token of a
    :class:`TokenSession` on each (refreshed, retried once after a ``401 invalid_token``), the
    documented headers, safe retries, typed errors. :class:`mobproc.Client` builds on it."""

    session: TokenSession

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, tenant: str, username: str | None = None,
        password: str | None = None, api_url: str | None = None, scope: str | None = "MOBPROC",
        store: TokenStore | None = None, retry: Retry | None = None, timeout: float | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._own_http = http is None
        self.http = http or httpx.Client()
        tokens = TokenSession(endpoint, client_id, client_secret, username=username, password=password, scope=scope,
                              store=store, retry=retry, http=self.http, timeout=timeout)
        super().__init__(tokens, endpoint, api_url, tenant, retry, timeout)
        self._auth = BearerAuth(tokens)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """One call, its answer's JSON: ``request("GET", "/vendors")``. Sent again where safe:
        ``GET`` and the other idempotent methods (RFC 9110 §9.2.2), not ``POST``."""
        return self._run(self._call(method, path, params=params, json=json))

    def walk(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """The items of a collection (``key``: ``"orders"``), every page of it, each once."""
        pages = Walk(self.api, path, key, params)
        while pages.next is not None:
            url, query = pages.next
            yield from pages.take(self._run(self._call("GET", url, params=query)))

    def _run(self, steps: ApiFlow) -> Any:
        return drive(steps, lambda request: self.http.send(request, auth=self._auth))

    def close(self) -> None:
        """Closes the connections (shared with every :meth:`with_context` view)."""
        self.session.close()
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncApiSession(_Api):
    """:class:`ApiSession` for asyncio, with the same arguments; any number of tasks of one
    event loop may share it."""

    session: AsyncTokenSession

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, tenant: str, username: str | None = None,
        password: str | None = None, api_url: str | None = None, scope: str | None = "MOBPROC",
        store: TokenStore | None = None, retry: Retry | None = None, timeout: float | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._own_http = http is None
        self.http = http or httpx.AsyncClient()
        tokens = AsyncTokenSession(endpoint, client_id, client_secret, username=username, password=password,
                                   scope=scope, store=store, retry=retry, http=self.http, timeout=timeout)
        super().__init__(tokens, endpoint, api_url, tenant, retry, timeout)
        self._auth = BearerAuth(tokens)

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None) -> Any:
        """As :meth:`ApiSession.request`, awaited."""
        return await self._run(self._call(method, path, params=params, json=json))

    async def walk(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[Any]:
        """As :meth:`ApiSession.walk`: ``async for order in session.walk("/orders", "orders")``."""
        pages = Walk(self.api, path, key, params)
        while pages.next is not None:
            url, query = pages.next
            for item in pages.take(await self._run(self._call("GET", url, params=query))):
                yield item

    async def _run(self, steps: ApiFlow) -> Any:
        return await drive_async(steps, lambda request: self.http.send(request, auth=self._auth))

    async def aclose(self) -> None:
        """Closes the connections (shared with every :meth:`with_context` view)."""
        await self.session.aclose()
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port spelt out (RFC 6454 §4)."""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default
