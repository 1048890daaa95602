"""Log in (user, password, domain), log out (revokes the tokens), switch project.

The password goes to Keystone once and is never kept; the session keeps the unscoped token
(to switch projects) and the project-scoped token the pages act with.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page, safe_next


async def show_login(p: Page) -> Response:
    if p.session.login is not None:
        return RedirectResponse("/project/", status_code=303)
    return p.render("login.html", next=p.request.query_params.get("next", ""), error="")


async def login(p: Page) -> Response:
    form = await p.form()
    user, domain = field(form, "username"), field(form, "domain") or "Default"
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    target = safe_next(field(form, "next"))
    client = p.request.client.host if p.request.client else "unknown"
    keys = (f"user:{domain.lower()}/{user.lower()}", f"addr:{client}")
    wait = p.dash.throttle.blocked(*keys)
    if wait > 0:
        message = f"Too many failed logins; try again in {int(wait) + 1} seconds."
        return p.render("login.html", status=429, next=target, error=message)
    try:
        unscoped = await p.cloud.password_login(user, password, domain)
        projects = await p.cloud.projects(unscoped.token)
        if not projects:
            await p.cloud.revoke(unscoped.token)
            raise ApiError(403, "You have no role on any project; ask an admin for one.")
        scoped = await p.cloud.rescope(unscoped.token, projects[0]["id"])
    except ApiError as exc:
        if exc.status == 401:
            p.dash.throttle.failed(*keys)
        status = exc.status if exc.status in (401, 403) else 503
        return p.render("login.html", status=status, next=target, error=exc.message)
    session = p.dash.sessions.renew(p.session)
    session.unscoped, session.login = unscoped.token, scoped
    session.projects = [{"id": str(x["id"]), "name": str(x.get("name", ""))} for x in projects]
    p.session = session
    return RedirectResponse(target, status_code=303)


async def logout(p: Page) -> Response:
    if p.session.login is not None:
        await p.cloud.revoke(p.session.login.token)
    for token in [*p.session.retired, p.session.unscoped]:
        if token:
            await p.cloud.revoke(token)
    p.dash.sessions.drop(p.session)
    p.session = p.dash.sessions.new()
    p.session.say("ok", "You have logged out.")
    return RedirectResponse("/auth/login", status_code=303)


async def switch_project(p: Page) -> Response:
    form = await p.form()
    project_id = field(form, "project_id")
    if project_id not in {x["id"] for x in p.session.projects}:
        raise ApiError(403, "You have no role on that project.")
    # The old project's token is revoked at logout, not now: this cloud's Keystone gives a
    # rescoped token its parent's audit id, so revoking it would revoke the new one too.
    p.session.retired.append(p.login.token)
    p.session.login = await p.cloud.rescope(p.session.unscoped, project_id)
    return p.redirect("/project/", ok=f"Now working in project {p.session.login.project_name}.")


async def home(p: Page) -> Response:
    return RedirectResponse("/project/", status_code=303)


ROUTES = [
    page("/", home),
    page("/auth/login", show_login, need="anyone"),
    page("/auth/login", login, ["POST"], need="anyone"),
    page("/auth/logout", logout, ["POST"]),
    page("/auth/switch", switch_project, ["POST"]),
]
