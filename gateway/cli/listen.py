"""``gateway listen``: a local receiver for trying the gateway out, like ``stripe listen``.

It prints each request as it arrives (method, path, the webhook-* and x-gateway-* headers, the
body pretty-printed), checks the Standard Webhooks signature when given ``--secret`` and answers
``--status``. It uses the standard library's threaded HTTP server: one process, no app to load.
Ctrl-C or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from gateway.cli.common import StartupError, add_command, bind_port

MAX_BODY_PRINTED = 64 * 1024
SHOWN_HEADERS = ("content-type", "user-agent")
SHOWN_PREFIXES = ("webhook-", "x-gateway-", "typeform-", "x-make-", "x-api-token")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "listen",
        help="a local receiver: print each delivery as it arrives, check its signature",
        example="gateway listen --port 9000 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=9000, help="TCP port to listen on")
    p.add_argument(
        "--secret",
        action="append",
        default=None,
        help="the destination's whsec_… (or whpk_…) to verify signatures with; repeat for "
        "several; without it signatures are not checked",
    )
    p.add_argument(
        "--status",
        type=int,
        default=200,
        help="the HTTP status to answer every request with (e.g. 500 to practise retries)",
    )
    p.set_defaults(func=cmd_listen)


def cmd_listen(args: argparse.Namespace) -> int:
    from gateway import signing

    if not 200 <= args.status <= 599:
        raise StartupError(f"--status {args.status} is not a status to answer; use 200..599")
    for secret in args.secret or []:
        try:
            signing.check_secret(secret)
        except ValueError as exc:
            raise StartupError(
                f"bad --secret: {exc}; pass the whsec_… secret the destination was created with"
            ) from exc
    server = ListenServer(args.host, args.port, args.secret or [], args.status)
    signal.signal(signal.SIGTERM, _interrupt)
    secret_note = "checking signatures" if args.secret else "not checking signatures (no --secret)"
    print(
        f"gateway listen: http://{args.host}:{args.port} answers {args.status}, "
        f"{secret_note}; Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"gateway listen: stopped after {server.received} request(s)", flush=True)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class ListenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, secrets: list[str], status: int) -> None:
        super().__init__((host, port), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = bind_port(host, port)
        self.server_address = self.socket.getsockname()[:2]
        self.server_activate()
        self.secrets = secrets
        self.status = status
        self.received = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: ListenServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._handle()

    do_PUT = do_POST
    do_PATCH = do_POST
    do_GET = do_POST
    do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the report below replaces the access log

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        report = describe(
            self.command, self.path, headers, body, self.server.secrets, self.server.status
        )
        with self.server.lock:
            self.server.received += 1
            sys.stdout.write(report)
            sys.stdout.flush()
        answer = json.dumps(
            {"ok": 200 <= self.server.status < 300, "answeredBy": "gateway listen"}
        ).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def describe(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    secrets: list[str],
    status: int,
    *,
    now: float | None = None,
) -> str:
    """The printed report of one request (pure, so it is tested without a socket)."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"--> {method} {path}   {stamp}   answered {status}"]
    for name, value in headers.items():
        if name in SHOWN_HEADERS or name.startswith(SHOWN_PREFIXES):
            lines.append(f"    {name}: {value}")
    lines.append(f"    {_signature_line(headers, body, secrets, int(now))}")
    lines.extend("    " + line for line in _pretty(body).splitlines())
    return "\n".join(lines) + "\n\n"


def _signature_line(headers: dict[str, str], body: bytes, secrets: list[str], now: int) -> str:
    from gateway import signing
    from gateway.errors import SignatureError

    if not secrets:
        return "signature not checked (no --secret)"
    try:
        signing.verify(body, headers, secrets, now=now)
    except SignatureError as exc:
        return f"signature INVALID: {exc}"
    return "signature verified"


def _pretty(body: bytes) -> str:
    if not body:
        return "(empty body)"
    if len(body) <= MAX_BODY_PRINTED:
        try:
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    text = body[:MAX_BODY_PRINTED].decode("utf-8", errors="replace")
    if len(body) > MAX_BODY_PRINTED:
        text += f"\n… {len(body) - MAX_BODY_PRINTED} more bytes"
    return text
