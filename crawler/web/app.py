"""The Starlette application of `cablearchive serve`: routes, templates, security headers, errors.

Every page has a JSON twin at the same path under /api/. The archive is opened read-only
(no lock, no write), one connection per worker thread. Pages carry a Content-Security-Policy
that allows no script at all; a captured page is served under a stricter one (nothing is
loaded, nothing runs) and shown in a sandboxed frame.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import Archive, ArchiveError
from archive.classify import KIND_LABELS, KINDS
from archive.render import palette_css
from crawler.web import params, views

# Pages: no script from anywhere, styles and images from this site only, frames only of
# this site (the captured page), and no other site may frame these pages.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# A captured page as it was served: nothing it names is fetched, no script runs (the
# sandbox directive also holds when the page is opened outside its frame), no form is sent.
CAPTURE_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)
_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware: every response gets the page CSP and the common headers, unless it set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                headers.extend(h for h in _COMMON_HEADERS if h[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Environment:
    """The site's templates (crawler/web/templates/) and the diff view's (archive/templates/), autoescaped."""
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("crawler.web", "templates"), PackageLoader("archive", "templates")]
        ),
        autoescape=select_autoescape(("html", "xml")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        kind_labels=KIND_LABELS,
        kinds=KINDS,
        palette_css=palette_css,
        capture_token=params.capture_token,
    )
    env.filters["short"] = lambda v, n=80: v if v is None or len(str(v)) <= n else str(v)[: n - 1] + "…"
    return env


class Site:
    """The application's state: the archive folder, a read-only archive per thread, the templates."""

    def __init__(self, archive_dir: str) -> None:
        self.archive_dir = os.fspath(archive_dir)
        self.env = templates()
        self._local = threading.local()
        # Fail at start, not on the first request, when the folder is not a readable archive.
        self.archive().conn  # noqa: B018

    def archive(self) -> Archive:
        """This thread's read-only archive (sqlite connections stay in the thread that made them)."""
        arch = getattr(self._local, "archive", None)
        if arch is None:
            arch = Archive.open_read_only(self.archive_dir)
            self._local.archive = arch
        return arch

    def render(self, request: Request, page: views.Page) -> Response:
        """The html page, or under /api/ its JSON twin."""
        if request.url.path.startswith("/api/") or request.url.path == "/api":
            return JSONResponse(page.data, status_code=page.status)
        html = self.env.get_template(page.template).render(page=page.data, request=request, **page.extra)
        return HTMLResponse(html, status_code=page.status)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error page (or JSON under /api/) saying what was wrong."""
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        html = self.env.get_template("error.html").render(
            page={"status": status, "message": message}, request=request
        )
        return HTMLResponse(html, status_code=status)


def create_app(archive_dir: str | os.PathLike[str]) -> Starlette:
    """The web application over the archive at archive_dir (opened read-only); ArchiveError when it cannot be read."""
    site = Site(os.fspath(archive_dir))

    def page(build: Callable[[Archive, dict[str, Any]], views.Page]) -> Callable[[Request], Response]:
        """An endpoint rendering build(archive, query) as html or JSON."""

        def endpoint(request: Request) -> Response:
            return site.render(request, build(site.archive(), dict(request.query_params)))

        return endpoint

    def cable_page(
        build: Callable[[Archive, str, dict[str, Any]], views.Page],
    ) -> Callable[[Request], Response]:
        """An endpoint rendering build(archive, checked cable ID, query) as html or JSON."""

        def endpoint(request: Request) -> Response:
            ref = params.reference(request.path_params["ref"])
            return site.render(request, build(site.archive(), ref, dict(request.query_params)))

        return endpoint

    def capture_page(request: Request) -> Response:
        return site.render(request, views.capture(site.archive(), request.path_params["token"]))

    def captured(request: Request) -> Response:
        """The page as it was served, under CAPTURE_CSP."""
        arch = site.archive()
        cap = views.capture_of(arch, request.path_params["token"])
        _status, headers, body = views.read_capture(arch, cap)
        mime = (cap.mime or "").split(";")[0].strip().lower()
        charset = _charset(headers)
        kind = "text/html" if mime in ("text/html", "application/xhtml+xml") else "text/plain"
        return Response(
            body,
            media_type=f"{kind}; charset={charset}" if charset else kind,
            headers={"Content-Security-Policy": CAPTURE_CSP, "X-Frame-Options": "SAMEORIGIN"},
        )

    def warc(request: Request) -> Response:
        arch = site.archive()
        token = request.path_params["token"]
        cap = views.capture_of(arch, token)
        data = views.warc_record(arch, cap)
        gz = cap.warc_file.endswith(".gz")
        return Response(
            data,
            media_type="application/warc" if not gz else "application/gzip",
            headers={"Content-Disposition": f'attachment; filename="{token}.warc{".gz" if gz else ""}"'},
        )

    def feed(request: Request) -> Response:
        ref = request.path_params.get("ref")
        if ref is not None:
            params.reference(ref)
        result = views.feed(site.archive(), ref)
        if request.url.path.startswith("/api/"):
            return JSONResponse(result.data)
        xml = site.env.get_template("feed.xml").render(page=result.data, request=request, **result.extra)
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    def robots(_request: Request) -> Response:
        return PlainTextResponse("User-agent: *\nDisallow: /\n")

    routes: list[Route | Mount] = []
    for prefix in ("", "/api"):
        routes += [
            Route(prefix + "/", page(views.home)),
            Route(prefix + "/cables", page(views.cables)),
            Route(prefix + "/search", page(views.search)),
            Route(prefix + "/cable/{ref}", cable_page(views.cable)),
            Route(prefix + "/cable/{ref}/diff", cable_page(views.diff)),
            Route(prefix + "/capture/{token}", capture_page),
        ]
    routes += [
        Route("/api", page(views.home)),
        Route("/capture/{token}/page", captured),
        Route("/capture/{token}/warc", warc),
        Route("/feed.atom", feed),
        Route("/cable/{ref}/feed.atom", feed),
        Route("/api/feed", feed),
        Route("/api/cable/{ref}/feed", feed),
        Route("/robots.txt", robots),
        Mount("/static", app=StaticFiles(packages=[("crawler.web", "static")]), name="static"),
        Route("/static/diff.css", lambda r: _diff_css()),
    ]
    # /static/diff.css comes from archive/templates/ (the diff view's own stylesheet): it must
    # be matched before the static mount.
    routes.insert(0, routes.pop())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return site.error(request, exc.status_code, str(exc.detail))

    async def archive_error(request: Request, exc: Exception) -> Response:
        return site.error(request, 404 if isinstance(exc, ArchiveError) else 400, str(exc))

    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            ArchiveError: archive_error,
            ValueError: archive_error,
        },
    )
    app.add_middleware(SecurityHeaders)
    app.state.site = site
    return app


def _diff_css() -> Response:
    """The diff view's stylesheet with its colours, as the web pages link it."""
    from importlib.resources import files

    css = (files("archive") / "templates" / "diff.css").read_text(encoding="utf-8")
    return Response(css + "\n" + palette_css() + "\n", media_type="text/css; charset=utf-8")


def _charset(headers: list[tuple[str, str]]) -> str | None:
    """The charset a response's Content-Type names, if it is a safe token."""
    for k, v in headers:
        if k.lower() == "content-type" and "charset=" in v.lower():
            cs = v.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'")
            if cs and all(c.isalnum() or c in "-_" for c in cs) and len(cs) < 40:
                return cs
    return None
