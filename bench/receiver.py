"""A fast loopback HTTP/1.1 receiver for benchmarks: every request gets ``200 ok``.

    python bench/receiver.py --port 8765 [--seconds 120] [--loop uvloop|asyncio]

A raw asyncio protocol with httptools' parser (uvicorn's own, installed with ``uvicorn[standard]``)
on uvloop when available, so the receiver spends far less CPU per request than the clients under
test. It listens on 127.0.0.1 only, prints ``ready`` once listening, keeps connections alive,
counts requests, and exits after ``--seconds`` or on SIGINT/SIGTERM, printing ``served N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import cast

import httptools

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


class Counter:
    """Requests answered, shared by every connection."""

    def __init__(self) -> None:
        self.served = 0


class ReceiverProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each as soon as it is complete."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only duck-typed alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                self.transport.close()

    # httptools callback: the request, body included, has been read.
    def on_message_complete(self) -> None:
        self.counter.served += 1
        if self.transport is None:
            return
        self.transport.write(RESPONSE)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def serve(port: int, seconds: float, counter: Counter) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ReceiverProtocol(counter), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=120.0, help="exit after this long")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args(argv)
    counter = Counter()
    runner = asyncio.run
    if args.loop == "uvloop":
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            print("uvloop not installed; using asyncio", file=sys.stderr)
    runner(serve(args.port, args.seconds, counter))
    print(f"served {counter.served}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
