"""``GET /dashboard``: the operations view, plain HTML/CSS/JS (no build step).

The page itself is public and holds no data; its script asks for an API key, keeps it in
``sessionStorage`` (gone when the tab closes) and calls the JSON API with it, so the dashboard
sees exactly what the key may see. Strict headers: no inline script, no framing, no referrer.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway import __version__

ASSETS = Path(str(resources.files("gateway") / "dashboard"))
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def _page() -> str:
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    return html.replace("{{version}}", __version__)


async def dashboard(request: Request) -> Response:
    return HTMLResponse(_page(), headers=SECURITY_HEADERS)


async def dashboard_slash(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=308)


routes = [
    Route("/dashboard", dashboard, methods=["GET"]),
    Route("/dashboard/", dashboard_slash, methods=["GET"]),
    Mount("/dashboard/static", app=StaticFiles(directory=ASSETS / "static"), name="dashboard"),
]
