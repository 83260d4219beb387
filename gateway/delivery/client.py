"""The outbound HTTP client: one aiohttp session per process, with an SSRF guard.

Why aiohttp and not httpx here: measured on this 2-core machine (``bench/client_ceiling.py``),
one ``httpx.AsyncClient`` manages ~570 POSTs/s, httpx on the aiohttp transport ~2.9k/s and aiohttp
itself ~8.4k/s; the delivery target is several thousand signed, persisted deliveries per second.
httpx stays for the person.run client and tests. The outbound guard (``gateway/delivery/guard.py``,
rules in ``gateway/netguard.py``) checks every send: IP literals, in whatever spelling, before the
request; names inside the connector's resolver, on the addresses actually connected to.

Redirects are never followed (CONTRACT §4), and only the first 4 KiB of a response body is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

from gateway import netguard
from gateway.adapters import ResponseInfo
from gateway.delivery.guard import Blocked, GuardedResolver, check_url
from gateway.errors import BlockedDestinationError, DeliveryError
from gateway.models import ErrorClass
from gateway.redaction import mask_urls

RESPONSE_BODY_LIMIT = 4096  # bytes of a response body kept on the attempt


class DeliveryClient(Protocol):
    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout_seconds: float,
        method: str = "POST",
        body_limit: int = RESPONSE_BODY_LIMIT,
    ) -> ResponseInfo: ...

    async def close(self) -> None: ...


class AiohttpDeliveryClient:
    """The production client. ``allowed`` comes from ``GATEWAY_ALLOW_PRIVATE_NETWORKS``."""

    def __init__(self, allowed: netguard.Allowlist, *, limit: int = 512) -> None:
        self._allowed = allowed
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=0,
                resolver=GuardedResolver(self._allowed),
                ttl_dns_cache=30,
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                # No cookies, ever: a destination's Set-Cookie must not follow us to the next
                # request, and the jar's per-request filtering and per-response parsing cost.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout_seconds: float,
        method: str = "POST",
        body_limit: int = RESPONSE_BODY_LIMIT,
    ) -> ResponseInfo:
        """One request; the response body is cut to ``body_limit`` bytes."""
        target = check_url(url, self._allowed)  # the same yarl.URL goes to aiohttp
        session = self._open()
        timeout = _timeout(timeout_seconds)
        try:
            async with session.request(
                method,
                target,
                data=body,
                headers=headers,  # aiohttp copies them into its own CIMultiDict
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                excerpt = await _read_excerpt(resp, body_limit)
                headers = {str(k): v for k, v in resp.headers.items()}
                return ResponseInfo(resp.status, headers, excerpt)
        except DeliveryError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise DeliveryError(
                f"no response within {timeout_seconds:g} s", error_class=ErrorClass.TIMEOUT
            ) from exc
        except Exception as exc:  # mapped once, here (STYLE: translate at the seam)
            raise _translate(exc) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.lru_cache(maxsize=256)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


async def _read_excerpt(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _translate(exc: Exception) -> DeliveryError:
    cause: Any = exc
    while cause is not None:
        if isinstance(cause, Blocked):
            return BlockedDestinationError(str(cause))
        cause = getattr(cause, "os_error", None) or cause.__cause__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return DeliveryError(f"TLS failure: {exc}", error_class=ErrorClass.TLS)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientOSError | ConnectionError):
        return DeliveryError(f"connection failed: {exc}", error_class=ErrorClass.CONNECT)
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        return DeliveryError(f"bad HTTP response: {exc!r}", error_class=ErrorClass.PROTOCOL)
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return DeliveryError(f"invalid URL: {mask_urls(str(exc))}", error_class=ErrorClass.CONNECT)
    return DeliveryError(
        f"{type(exc).__name__}: {mask_urls(str(exc))}", error_class=ErrorClass.CONNECT
    )
