"""The guard at create and inside the resolver: names resolved off the loop, failures accepted,
mixed answers treated as the resolver treats them; the API's 422s.

DNS is replaced by a stub here (``socket.getaddrinfo`` in the guard module, aiohttp's threaded
resolver): the tests may not ask a real resolver about public names.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.delivery import guard
from gateway.errors import BlockedDestinationError


def _answers(*addresses: str) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return getaddrinfo


async def test_a_name_resolving_only_to_refused_addresses_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guard.socket, "getaddrinfo", _answers("10.0.0.5", "169.254.169.254"))
    with pytest.raises(BlockedDestinationError) as info:
        await guard.vet_url("https://internal.corp.example.com/hook", ())
    assert "GATEWAY_ALLOW_PRIVATE_NETWORKS" in info.value.message
    assert "10.0.0.5" in info.value.message


async def test_a_name_with_one_public_address_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # the resolver connects to the public one only, so create accepts it like a send would
    monkeypatch.setattr(guard.socket, "getaddrinfo", _answers("10.0.0.5", "93.184.216.34"))
    await guard.vet_url("https://mixed.example.com/hook", ())


async def test_resolution_failure_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(guard.socket, "getaddrinfo", fail)
    await guard.vet_url("https://not-yet.example.com/hook", ())


async def test_never_delegated_names_are_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: Any) -> Any:
        raise AssertionError("looked up a name no resolver answers")

    monkeypatch.setattr(guard.socket, "getaddrinfo", must_not_run)
    for url in ("https://hooks.example/x", "https://a.invalid/", "https://b.test./"):
        await guard.vet_url(url, ())


async def test_allow_everything_skips_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard.socket, "getaddrinfo", _answers("10.0.0.5"))
    await guard.vet_url("https://internal.corp.example.com/hook", None)


async def test_resolver_keeps_only_allowed_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = guard.GuardedResolver(())

    async def inner(host: str, port: int = 0, family: Any = 0) -> list[dict[str, Any]]:
        return [
            {"hostname": host, "host": a, "port": port, "family": 2, "proto": 0, "flags": 0}
            for a in ("127.0.0.1", "93.184.216.34", "::ffff:10.0.0.1")
        ]

    monkeypatch.setattr(resolver._inner, "resolve", inner)
    kept = await resolver.resolve("rebinding.example.com", 443)
    assert [r["host"] for r in kept] == ["93.184.216.34"]

    async def refused_only(host: str, port: int = 0, family: Any = 0) -> list[dict[str, Any]]:
        return [
            {
                "hostname": host,
                "host": "fe80::1%lo",
                "port": port,
                "family": 10,
                "proto": 0,
                "flags": 0,
            }
        ]

    monkeypatch.setattr(resolver._inner, "resolve", refused_only)
    with pytest.raises(guard.Blocked, match="link-local"):
        await resolver.resolve("rebinding.example.com", 443)
    with pytest.raises(guard.Blocked, match="localhost"):
        await resolver.resolve("localhost", 443)
    await resolver.close()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://", "http(s)"),  # accepted before the guard
        ("ftp://files.example/x", "http(s)"),
        ("//hooks.example/x", "http(s)"),
        ("http://0xa.1:8080/x", "GATEWAY_ALLOW_PRIVATE_NETWORKS"),  # 10.0.0.1
        ("http://[::ffff:169.254.169.254]/", "GATEWAY_ALLOW_PRIVATE_NETWORKS"),
        ("http://1.2.3.4.5/", "not one"),
    ],
)
def test_api_refuses_at_create_patch_subscribe_and_source(
    client: TestClient, url: str, needle: str
) -> None:
    base = {"tenantId": "t1", "connector": "webhook", "eventTypes": ["task.completed"]}
    r = client.post("/integrations/destinations", json={**base, "url": url})
    assert r.status_code == 422 and needle in r.text, r.text
    ok = client.post("/integrations/destinations", json={**base, "url": "https://hooks.example/"})
    assert ok.status_code == 201, ok.text
    r = client.patch(f"/integrations/destinations/{ok.json()['id']}", json={"url": url})
    assert r.status_code == 422 and needle in r.text, r.text
    r = client.post("/hooks/zapier", json={"hookUrl": url, "event": "task.completed"})
    assert r.status_code == 422 and needle in r.text, r.text
    source = {"tenantId": "t1", "kind": "qualtrics", "qualtrics": {"baseUrl": url, "apiToken": "t"}}
    r = client.post("/integrations/sources", json=source)
    assert r.status_code == 422, r.text
