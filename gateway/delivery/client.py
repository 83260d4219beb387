"""The outbound HTTP client: one aiohttp session per process, with an SSRF guard.

Why aiohttp and not httpx here: measured on this 2-core machine (``bench/client_ceiling.py``),
one ``httpx.AsyncClient`` manages ~570 POSTs/s, httpx on the aiohttp transport ~2.9k/s and aiohttp
itself ~8.4k/s; the delivery target is several thousand signed, persisted deliveries per second.
httpx stays for the person.run client and tests. The guard lives in the connector's resolver, so
the address that was checked is the address connected to (no DNS-rebinding window); IP-literal
URLs, which aiohttp never resolves, are checked before the request.

Redirects are never followed (CONTRACT §4), and only the first 4 KiB of a response body is kept.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.adapters import ResponseInfo
from gateway.errors import BlockedDestinationError, DeliveryError
from gateway.models import ErrorClass

RESPONSE_BODY_LIMIT = 4096  # bytes of a response body kept on the attempt
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def address_allowed(address: IPAddress, allowed: tuple[Network, ...] | None) -> bool:
    """Public addresses always; others only inside ``allowed`` (``None`` = everything)."""
    if allowed is None:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return True
    return any(address in net for net in allowed if net.version == address.version)


class _Blocked(OSError):
    """Raised inside the resolver; aiohttp wraps it, ``send`` unwraps it."""


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then drops refused addresses."""

    def __init__(self, allowed: tuple[Network, ...] | None) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [
            r for r in results if address_allowed(ipaddress.ip_address(r["host"]), self._allowed)
        ]
        if not kept:
            raise _Blocked(
                f"{host} resolves only to refused addresses "
                f"({', '.join(sorted({r['host'] for r in results}))})"
            )
        return kept

    async def close(self) -> None:
        await self._inner.close()


@functools.lru_cache(maxsize=4096)
def check_url(url: str, allowed: tuple[Network, ...] | None) -> None:
    """Refuse non-HTTP schemes and refused IP literals before any connection."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"not an http(s) URL: {url!r}", error_class=ErrorClass.CONNECT)
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not address_allowed(literal, allowed):
        raise BlockedDestinationError(
            f"{parts.hostname} is not a public address; allow it with "
            "GATEWAY_ALLOW_PRIVATE_NETWORKS"
        )


class AiohttpDeliveryClient:
    """The production client. ``allowed`` comes from ``GATEWAY_ALLOW_PRIVATE_NETWORKS``."""

    def __init__(self, allowed: tuple[Network, ...] | None, *, limit: int = 512) -> None:
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
        check_url(url, self._allowed)
        session = self._open()
        timeout = _timeout(timeout_seconds)
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=dict(headers),
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
        if isinstance(cause, _Blocked):
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
        return DeliveryError(f"invalid URL: {exc}", error_class=ErrorClass.CONNECT)
    return DeliveryError(f"{type(exc).__name__}: {exc}", error_class=ErrorClass.CONNECT)
