"""The outbound guard at its two moments: before a request and inside the resolver.

Every request the gateway sends on a user's behalf (deliveries, test sends, Qualtrics fetches) goes
through ``AiohttpDeliveryClient``, which calls ``check_url`` first and resolves names only through
``GuardedResolver``. ``check_url`` parses the URL once with yarl and hands that same ``yarl.URL``
to aiohttp, so the host the guard read is the host aiohttp connects to: an IP literal in any
spelling (aiohttp skips the resolver for those) is decided here, before anything is sent; a DNS
name is decided in the resolver on the addresses actually connected to (no rebinding window).

``vet_url`` is the same decision at destination create and patch, resolving names off the event
loop; a name that does not resolve is accepted there, since every send checks again.
"""

from __future__ import annotations

import asyncio
import functools
import socket

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway import netguard
from gateway.errors import BlockedDestinationError

VET_RESOLVE_TIMEOUT_SECONDS = 3.0
NEVER_DELEGATED_TLDS = frozenset({"example", "invalid", "test"})


class Blocked(OSError):
    """Raised inside the resolver; aiohttp wraps it, the client unwraps it."""


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then keeps only the addresses the guard allows."""

    def __init__(self, allowed: netguard.Allowlist) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if (refusal := netguard.name_refusal(host, self._allowed)) is not None:
            raise Blocked(refusal)
        results = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refusals: list[str] = []
        for result in results:
            address = netguard.resolved_address(result["host"])
            if address is None:
                refusals.append(f"{result['host']!r} is not an address")
                continue
            verdict = netguard.decide(address, self._allowed)
            if verdict.allowed:
                kept.append(result)
            else:
                refusals.append(verdict.message(host))
        if not kept:
            raise Blocked(f"{host} resolves only to refused addresses: {'; '.join(refusals)}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


@functools.lru_cache(maxsize=4096)
def check_url(url: str, allowed: netguard.Allowlist) -> yarl.URL:
    """The parsed URL to send to, after refusing what the guard refuses without DNS."""
    try:
        target = netguard.url_target(url)
    except netguard.UnusableUrl as exc:
        raise BlockedDestinationError(f"the URL {exc}") from exc
    refusal = refusal_without_dns(target, allowed)
    if refusal is not None:
        raise BlockedDestinationError(refusal)
    return target.url


def refusal_without_dns(target: netguard.Target, allowed: netguard.Allowlist) -> str | None:
    if target.address is not None:
        verdict = netguard.decide(target.address, allowed)
        return None if verdict.allowed else verdict.message(target.host)
    return netguard.name_refusal(target.host, allowed)


async def vet_url(url: str, allowed: netguard.Allowlist) -> None:
    """Refuse at create/patch what a send would refuse (``BlockedDestinationError``).

    ``netguard.UnusableUrl`` for a URL that is not absolute http(s) with a usable host."""
    target = netguard.url_target(url)
    refusal = refusal_without_dns(target, allowed)
    if refusal is not None:
        raise BlockedDestinationError(refusal)
    if target.address is not None or allowed is None:
        return
    if target.host.rstrip(".").rsplit(".", 1)[-1] in NEVER_DELEGATED_TLDS:
        return  # no resolver answers these (RFC 6761 §6.2-6.5): nothing to learn by asking
    try:
        infos = await asyncio.wait_for(
            asyncio.to_thread(socket.getaddrinfo, target.host, target.port, 0, socket.SOCK_STREAM),
            VET_RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, UnicodeError, TimeoutError):
        return  # does not resolve now: the send checks again when it does
    verdicts = [
        netguard.decide(address, allowed)
        for info in infos
        if (address := netguard.resolved_address(str(info[4][0]))) is not None
    ]
    # The resolver connects to the allowed addresses and drops the rest; refuse like it does.
    if verdicts and not any(v.allowed for v in verdicts):
        raise BlockedDestinationError("; ".join(sorted({v.message(target.host) for v in verdicts})))
