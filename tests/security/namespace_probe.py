"""Run inside a fresh network namespace (``unshare -n``) by ``test_guard_namespace.py``.

Brings ``lo`` up, refuses to go on if any other interface exists, starts a TRAP listener on every
loopback address (0.0.0.0 and [::], one port), proves the trap counts connections, then throws
hundreds of spellings of refused addresses, all aimed at the trap's port, at the real
``AiohttpDeliveryClient``, at the real API (destination create, patch, ``/hooks/zapier``,
Qualtrics sources) and at the real worker. Prints one JSON line of figures; the test asserts.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import json
import random
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SEED = 20261201
SPELLINGS_WANTED = 600
WORKER_SUBSET = 150
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
ADMIN = "ns-admin-key"


def bring_lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0)))[
            1
        ]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


class Trap:
    """Counts every TCP connection to its port on any local address."""

    def __init__(self) -> None:
        self.hits = 0
        self.v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.v4.bind(("0.0.0.0", 0))
        self.port = self.v4.getsockname()[1]
        self.socks = [self.v4]
        try:
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::", self.port))
            self.socks.append(v6)
        except OSError:
            pass  # no IPv6 in this namespace: the IPv4 trap still counts
        for s in self.socks:
            s.listen(512)
            s.settimeout(0.05)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def ipv6(self) -> bool:
        return len(self.socks) == 2

    def _run(self) -> None:
        while not self._stop.is_set():
            for s in self.socks:
                try:
                    conn, _ = s.accept()
                except (TimeoutError, OSError):
                    continue
                with self._lock:
                    self.hits += 1
                conn.close()

    def take(self) -> int:
        with self._lock:
            hits, self.hits = self.hits, 0
        return hits

    def wait_for(self, count: int, seconds: float = 5.0) -> int:
        deadline = time.monotonic() + seconds
        while self.hits < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.take()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()


def spellings(port: int, ipv6: bool) -> list[str]:
    from gateway import netguard
    from tests.security.spellings import carriers, random_in, spell

    rng = random.Random(SEED)
    loopback = [ipaddress.ip_address(a) for a in ("127.0.0.1", "0.0.0.0")]
    other_rows = [r for r in netguard.REFUSED_RANGES if r.inner is None]
    hosts: set[str] = set()
    names = [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",
    ]
    hosts.update(names)
    while len(hosts) < SPELLINGS_WANTED:
        pick = rng.random()
        if pick < 0.45:  # loopback IPv4 in every numeric and Unicode form: the trap is there
            v4 = rng.choice([*loopback, random_in(ipaddress.ip_network("127.0.0.0/8"), rng)])
            address: Any = v4
        elif pick < 0.75:  # IPv6 carrying a loopback IPv4, and IPv6 loopback itself
            v4 = rng.choice([*loopback, random_in(ipaddress.ip_network("127.0.0.0/8"), rng)])
            address = rng.choice([*carriers(v4), ipaddress.ip_address("::1")])
        else:  # every other refused row: no route here, so nothing could leave anyway
            address = random_in(rng.choice(other_rows).network, rng)
        if address.version == 6 and not ipv6:
            continue
        hosts.add(spell(address, rng))
    return [f"http://{h}:{port}/trap" for h in sorted(hosts)]


async def through_client(urls: list[str]) -> dict[str, Any]:
    from gateway.delivery.client import AiohttpDeliveryClient
    from gateway.errors import BlockedDestinationError

    client = AiohttpDeliveryClient(())
    blocked, other = 0, []
    try:
        for url in urls:
            try:
                await client.send(url, b"{}", {"content-type": "application/json"}, 2.0)
                other.append((url, "sent"))
            except BlockedDestinationError:
                blocked += 1
            except Exception as exc:
                other.append((url, f"{type(exc).__name__}: {exc}"))
    finally:
        await client.close()
    return {"blocked": blocked, "not_blocked": other}


async def control_send(port: int) -> None:
    from gateway.delivery.client import AiohttpDeliveryClient

    client = AiohttpDeliveryClient(None)  # '*': proves the trap would see a real send
    try:
        await client.send(f"http://127.0.0.1:{port}/control", b"{}", {}, 2.0)
    except Exception:
        pass  # the trap closes at once; the connection is what counts
    finally:
        await client.close()


def settings(db: Path, allow: str) -> Any:
    from gateway.settings import Settings

    return Settings(
        GATEWAY_DATABASE_URL=f"sqlite:///{db}",
        GATEWAY_ADMIN_KEY=ADMIN,
        GATEWAY_ALLOW_PRIVATE_NETWORKS=allow,
        GATEWAY_WORKER_IDLE_SECONDS=0.05,
        GATEWAY_ENCRYPTION_KEY="x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=",
    )


def destination(url: str) -> dict[str, Any]:
    return {"tenantId": "t1", "connector": "webhook", "url": url, "eventTypes": ["task.completed"]}


def source(url: str) -> dict[str, Any]:
    return {"tenantId": "t1", "kind": "qualtrics", "qualtrics": {"baseUrl": url, "apiToken": "tok"}}


def through_api(urls: list[str], db: Path) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from gateway.app import create_app

    refused, accepted = 0, []
    with TestClient(create_app(settings(db, "")), headers={"x-api-key": ADMIN}) as api:
        # a destination whose name does not resolve here is accepted (the send checks again)
        base = api.post("/integrations/destinations", json=destination("https://hooks.example/x"))
        assert base.status_code == 201, base.text
        base_id = base.json()["id"]
        for index, url in enumerate(urls):
            for what, r in _create_and_patch(api, base_id, index, url):
                named = "GATEWAY_ALLOW_PRIVATE_NETWORKS" in r.text or "the URL" in r.text
                if r.status_code == 422 and named:
                    refused += 1
                else:
                    accepted.append((what, url, r.status_code, r.text[:200]))
    return {"refused": refused, "accepted": accepted}


def _create_and_patch(api: Any, base_id: str, index: int, url: str) -> list[tuple[str, Any]]:
    """Destination create for every URL; patch, a Zapier subscribe or a Qualtrics source for a
    third each."""
    out = [("create", api.post("/integrations/destinations", json=destination(url)))]
    if index % 3 == 0:
        out.append(("patch", api.patch(f"/integrations/destinations/{base_id}", json={"url": url})))
    elif index % 3 == 1:
        hook = {"hookUrl": url, "event": "task.completed"}
        out.append(("hook", api.post("/hooks/zapier", json=hook)))
    else:
        out.append(("source", api.post("/integrations/sources", json=source(url))))
    return out


def through_worker(urls: list[str], db: Path) -> dict[str, Any]:
    """Created while '*' was allowed, sent after it was not: every attempt must be blocked."""
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.sandbox.fakes.qualtrics import completed_callback

    with TestClient(create_app(settings(db, "*")), headers={"x-api-key": ADMIN}) as api:
        sendable = []
        for url in urls:  # with '*' only the URL's shape can refuse it (yarl cannot read it)
            r = api.post("/integrations/destinations", json=destination(url))
            assert r.status_code in (201, 422), r.text
            if r.status_code == 201:
                sendable.append(url)
        sources = [
            api.post("/integrations/sources", json=source(u)).json()["sourceId"]
            for u in sendable[:5]
        ]
    recorded, wrong, ingest = 0, [], []
    with TestClient(create_app(settings(db, "")), headers={"x-api-key": ADMIN}) as api:
        event = {"tenantId": "t1", "type": "task.completed", "data": _task_data()}
        ids = api.post("/integrations/events", json=event).json()["deliveryIds"]
        deadline = time.monotonic() + 90
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            for delivery_id in list(pending):
                d = api.get(f"/integrations/deliveries/{delivery_id}?includeAttempts=true").json()
                if d["status"] in ("failed", "succeeded"):
                    pending.discard(delivery_id)
                    classes = [a["errorClass"] for a in d["attempts"]]
                    if d["status"] == "failed" and classes == ["blocked"]:
                        recorded += 1
                    else:
                        wrong.append((delivery_id, d["status"], classes))
            time.sleep(0.1)
        for source_id in sources:
            body = completed_callback("SV_bK3mQ9xT2vL7pNw", "R_2aX9kLmQ4pZ7tVy")
            r = api.post(
                f"/ingest/qualtrics/{source_id}",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            ingest.append(r.status_code)
    return {
        "created": len(sendable),
        "refused_by_shape": len(urls) - len(sendable),
        "deliveries": len(ids),
        "recorded_blocked": recorded,
        "wrong": wrong,
        "unfinished": len(pending),
        "qualtrics_ingest_statuses": ingest,
    }


def _task_data() -> dict[str, Any]:
    from copy import deepcopy

    from gateway.catalog import catalog

    return deepcopy(catalog()["task.completed"].example)


def main() -> None:
    bring_lo_up()
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        print(json.dumps({"abort": f"not an isolated namespace: {interfaces}"}))
        sys.exit(3)
    started = time.monotonic()
    trap = Trap()
    with socket.create_connection(("127.0.0.1", trap.port), timeout=2):
        pass
    if trap.ipv6:
        with socket.create_connection(("::1", trap.port), timeout=2):
            pass
    control = trap.wait_for(2 if trap.ipv6 else 1)
    asyncio.run(control_send(trap.port))
    control += trap.wait_for(1)
    urls = spellings(trap.port, trap.ipv6)
    work = Path(tempfile.mkdtemp(prefix="gw-ns-"))
    client = asyncio.run(through_client(urls))
    api = through_api(urls, work / "api.db")
    worker = through_worker(urls[:: max(1, len(urls) // WORKER_SUBSET)], work / "worker.db")
    time.sleep(0.2)  # let the trap's accept loop drain anything in its backlog
    hits = trap.take()
    trap.close()
    print(
        json.dumps(
            {
                "ipv6": trap.ipv6,
                "control_hits": control,
                "control_expected": 3 if trap.ipv6 else 2,
                "spellings": len(urls),
                "client": client,
                "api": api,
                "worker": worker,
                "trap_hits": hits,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
