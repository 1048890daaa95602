"""Domain-specific configuration (``/v3/domains/{id}/config`` with its group and option
levels, and the ``/v3/domains/config/.../default`` views). What may be set, and the defaults,
are in `identity.domain_config`; ministack stores the settings without using them (no LDAP)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.identity import domain_config as dc
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api import schemas
from ministack.identity.api.crud import core_of, route

CONFIG = "/v3/domains/{domain_id}/config"
DEFAULT = "/v3/domains/config"


def _level(request: Request) -> tuple[str | None, str | None]:
    """(group, option) named by the path, each checked against what Keystone allows."""
    group = request.path_params.get("group")
    option = request.path_params.get("option")
    if option is not None:
        dc.check_option(str(group), option)
    elif group is not None:
        dc.check_group(group)
    return group, option


def _not_found(domain_id: str, group: str | None = None, option: str | None = None) -> Exception:
    where = "".join(f" {k} {v}" for k, v in (("group", group), ("option", option)) if v)
    return errors.NotFound(f"Could not find domain config for domain {domain_id}{where}.")


def _view(config: dict[str, Any], domain_id: str, group: str | None, option: str | None) -> Any:
    """The part of the (shown) configuration the path names; 404 when it is not set."""
    if group is None:
        return config
    if group not in config:
        raise _not_found(domain_id, group)
    if option is None:
        return {group: config[group]}
    if option not in config[group]:
        raise _not_found(domain_id, group, option)
    return {option: config[group][option]}


def _body_for(request: Request, group: str | None, option: str | None) -> dict[str, Any]:
    """The request's configuration as whole groups; 403 when it names another group or
    option than the path."""
    body: dict[str, Any] = validation.body(request)["config"]
    if option is not None:
        if set(body) != {option}:
            raise dc.invalid(f"the body must set option {option} only.")
        return {str(group): body}
    if group is not None and set(body) != {group}:
        raise dc.invalid(f"the body must set group {group} only.")
    dc.check_config(body)
    return body


async def _load(request: Request, s: Any) -> tuple[m.DomainConfig | None, dict[str, Any]]:
    """(the row or None, the whole configuration with sensitive options decrypted)."""
    domain_id = request.path_params["domain_id"]
    if await s.get(m.Domain, domain_id) is None:
        raise errors.NotFound(f"Could not find domain: {domain_id}.")
    row = await s.get(m.DomainConfig, domain_id)
    if row is None:
        return None, {}
    secret = (
        json.loads(core_of(request).credentials.decrypt(row.sensitive)) if row.sensitive else {}
    )
    return row, dc.merge(row.config, secret)


def _store(request: Request, row: m.DomainConfig, config: dict[str, Any]) -> dict[str, Any]:
    shown, secret = dc.split(config)
    row.config = shown
    row.sensitive = core_of(request).credentials.encrypt(json.dumps(secret)) if secret else ""
    return shown


async def create_config(request: Request) -> Response:
    """Set the domain's whole configuration: 201 when new, 200 when it replaced one."""
    policies.authorize(await require_auth(request), "identity:create_domain_config")
    config = _body_for(request, None, None)
    domain_id = request.path_params["domain_id"]
    async with core_of(request).db.writer() as s:
        row, _old = await _load(request, s)
        status = 200 if row is not None else 201
        if row is None:
            row = m.DomainConfig(domain_id=domain_id)
            s.add(row)
        shown = _store(request, row, config)
    return json_response({"config": shown}, status=status)


async def show_config(request: Request) -> Response:
    policies.authorize(await require_auth(request), "identity:get_domain_config")
    group, option = _level(request)
    domain_id = request.path_params["domain_id"]
    async with core_of(request).db.session() as s:
        row, _config = await _load(request, s)
    if row is None:
        raise _not_found(domain_id)
    return json_response({"config": _view(row.config, domain_id, group, option)})


async def update_config(request: Request) -> Response:
    """Change some options (of the group or option in the path); answers what the path names."""
    policies.authorize(await require_auth(request), "identity:update_domain_config")
    group, option = _level(request)
    update = _body_for(request, group, option)
    domain_id = request.path_params["domain_id"]
    async with core_of(request).db.writer() as s:
        row, config = await _load(request, s)
        if row is None:
            raise _not_found(domain_id)
        if group is not None:
            _view(config, domain_id, group, option)  # 404 unless already set
        shown = _store(request, row, dc.merge(config, update))
    return json_response({"config": _view(shown, domain_id, group, option) if group else shown})


async def delete_config(request: Request) -> Response:
    policies.authorize(await require_auth(request), "identity:delete_domain_config")
    group, option = _level(request)
    domain_id = request.path_params["domain_id"]
    async with core_of(request).db.writer() as s:
        row, config = await _load(request, s)
        if row is None:
            raise _not_found(domain_id)
        if group is None:
            await s.delete(row)
            return empty_response()
        _view(config, domain_id, group, option)
        if option is None:
            del config[group]
        else:
            del config[group][option]
            if not config[group]:
                del config[group]
        if config:
            _store(request, row, config)
        else:
            await s.delete(row)
    return empty_response()


async def show_compliance(request: Request) -> Response:
    """Any user may read the password rules that apply in a domain (Keystone's
    security_compliance view: password_regex and its description; they cannot be set here)."""
    policies.authorize(
        await require_auth(request), "identity:get_security_compliance_domain_config"
    )
    async with core_of(request).db.session() as s:
        await _load(request, s)  # 404 for a domain that does not exist
    rules = core_of(request).settings.security_compliance
    shown = {
        "password_regex": rules.password_regex or None,
        "password_regex_description": rules.password_regex_description or None,
    }
    option = request.path_params.get("option")
    if option is None:
        return json_response({"config": {"security_compliance": shown}})
    if option not in shown:
        raise dc.invalid(f"option {option} in group security_compliance cannot be read.")
    return json_response({"config": {option: shown[option]}})


async def show_default(request: Request) -> Response:
    """Keystone's defaults of the options a domain may set (never a sensitive one)."""
    policies.authorize(await require_auth(request), "identity:get_domain_config_default")
    group, option = _level(request)
    if option is not None and option in dc.SENSITIVE[str(group)]:
        raise dc.invalid(f"option {option} has no default to show.")
    return json_response({"config": _view(dc.DEFAULTS, "default", group, option)})


ROUTES = [
    route(DEFAULT + "/default", show_default, "GET"),
    route(DEFAULT + "/{group}/default", show_default, "GET"),
    route(DEFAULT + "/{group}/{option}/default", show_default, "GET"),
    route(CONFIG + "/security_compliance", show_compliance, "GET"),
    route(CONFIG + "/security_compliance/{option}", show_compliance, "GET"),
    route(CONFIG, create_config, "PUT", body=schemas.domain_config),
    route(CONFIG, show_config, "GET"),
    route(CONFIG, update_config, "PATCH", body=schemas.domain_config),
    route(CONFIG, delete_config, "DELETE"),
]
for _level_path in (CONFIG + "/{group}", CONFIG + "/{group}/{option}"):
    ROUTES += [
        route(_level_path, show_config, "GET"),
        route(_level_path, update_config, "PATCH", body=schemas.domain_config),
        route(_level_path, delete_config, "DELETE"),
    ]
