"""How a dashboard page runs: session → CSRF → role → handler → HTML, with the security
headers on every answer.

Pages are declared as data, like the APIs' routes: ``page("/project/instances", list_instances,
need="login")``. The wrapper finds the session (or sends the browser to the login page),
refuses a POST (or PUT) whose CSRF token is missing or wrong (403), refuses an admin page to a
non-admin (403), then runs the handler with a `Page`. An `ApiError` becomes the API's own
message (a flash and a redirect after a POST, an error page after a GET); anything else
becomes a plain 500 page without a stack trace. Templates autoescape every value (promise 24).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ministack.config import Settings
from ministack.dashboard.cloud import ApiError, Cloud, Login
from ministack.dashboard.panels import panels_for
from ministack.dashboard.sessions import Session, SessionStore, Throttle, set_cookie

log = logging.getLogger("ministack.dashboard")

Need = Literal["anyone", "login", "admin"]
TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def console_csp(origin: str) -> str:
    """The serial console page's CSP: its websocket's origin allowed, and <style> elements,
    which xterm.js creates for its theme and cell sizes (scripts stay 'self' only)."""
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {origin}").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass
class Dashboard:
    """What every page shares: settings, the API client, sessions, the throttle, templates."""

    settings: Settings
    cloud: Cloud
    sessions: SessionStore
    throttle: Throttle
    templates: jinja2.Environment


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


@dataclass
class Page:
    """One request as a handler sees it."""

    request: Request
    dash: Dashboard
    session: Session

    @property
    def login(self) -> Login:
        assert self.session.login is not None
        return self.session.login

    @property
    def cloud(self) -> Cloud:
        return self.dash.cloud

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.cloud.get(self.login, service, path, **params)

    async def call(self, service: str, method: str, path: str, **kw: Any) -> Any:
        return await self.cloud.call(self.login, service, method, path, **kw)

    async def form(self) -> FormData:
        return await self.request.form()

    def render(
        self,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        login = self.session.login
        html = self.dash.templates.get_template(template).render(
            login=login,
            csrf=self.session.csrf,
            panels=panels_for(login),
            flash=self.session.take_flash(),
            path=self.request.url.path,
            projects=self.session.projects,
            **values,
        )
        return HTMLResponse(
            html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
        )

    def redirect(self, url: str, ok: str = "") -> Response:
        """After a POST: go to `url` (303), with a message shown there."""
        if ok:
            self.session.say("ok", ok)
        if self.request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Page], Awaitable[Response]]


def page(
    path: str, handler: Handler, methods: Sequence[str] = ("GET",), need: Need = "login"
) -> Route:
    """A route whose handler runs with the session, CSRF and role checks done."""

    async def endpoint(request: Request) -> Response:
        dash: Dashboard = request.app.state.dashboard
        return await run_page(request, dash, handler, need)

    return Route(path, endpoint, methods=list(methods), name=handler.__name__)


async def run_page(request: Request, dash: Dashboard, handler: Handler, need: Need) -> Response:
    session = dash.sessions.get(request)
    fresh = session is None
    if session is None:
        session = dash.sessions.new()
    if need != "anyone" and session.login is None:
        return _to_login(request, session, fresh)
    p = Page(request, dash, session)
    response: Response
    if request.method not in ("GET", "HEAD") and not await _csrf_ok(request, session):
        response = p.render(
            "error.html",
            status=403,
            title="Forbidden",
            message="The form's CSRF token is missing or wrong. Reload the page and try again.",
        )
    elif need == "admin" and not p.login.is_admin:
        response = p.render(
            "error.html", status=403, title="Forbidden", message="This page is for admins only."
        )
    else:
        response = await _run(p, handler)
    if p.session is not session or fresh:
        set_cookie(request, response, p.session)
    return response


async def _run(p: Page, handler: Handler) -> Response:
    try:
        return await handler(p)
    except ApiError as exc:
        if exc.status == 401 and p.session.login is not None:
            p.dash.sessions.drop(p.session)
            p.session = p.dash.sessions.new()
            p.session.say("error", "Your session has expired; log in again.")
            return _to_login(p.request, p.session, True)
        if "application/json" in p.request.headers.get("accept", ""):  # the page's own script
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        if p.request.method != "GET":
            p.session.say("error", exc.message)
            return p.redirect(back(p.request))
        return p.render("error.html", status=exc.status, title="Error", message=exc.message)
    except Exception:
        log.exception("dashboard page %s failed", p.request.url.path)
        return p.render(
            "error.html",
            status=500,
            title="Something went wrong",
            message="The dashboard could not show this page; the error is in its log.",
        )


async def _csrf_ok(request: Request, session: Session) -> bool:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return session.csrf_ok(sent)


def _to_login(request: Request, session: Session, fresh: bool) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/auth/login" + ("" if target in ("/", "/auth/login") else f"?next={quote(target)}")
    if request.headers.get("HX-Request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if fresh:
        set_cookie(request, response, session)
    return response


def back(request: Request, fallback: str = "/project/") -> str:
    """Where to go after a POST: the page it came from when that is on this site."""
    ref = request.headers.get("referer", "")
    parts = urlsplit(ref)
    if ref and parts.netloc == request.url.netloc and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return fallback


def field(form: FormData, name: str) -> str:
    """A text field of a posted form, stripped ('' when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def safe_next(target: str) -> str:
    """A post-login destination on this site only (no //host or scheme)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/project/"


class SecurityHeaders:
    """Adds the CSP, X-Frame-Options and friends to every answer (promises 23, 24)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = {k.lower() for k, _ in message.get("headers", [])}
                # a page that needs a wider CSP (the serial console's websocket) sends its own
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in own]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
