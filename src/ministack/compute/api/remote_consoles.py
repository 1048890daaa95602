"""Web consoles, as Nova's API has them: `POST /servers/{id}/remote-consoles` (2.6+), the
older actions `os-getVNCConsole` / `os-getSerialConsole` (and SPICE, RDP: refused) before
2.6, and `GET /os-console-auth-tokens/{token}` (admin).

Request flow: validate → authorize → the server must be ACTIVE on a host (409) → ask its
host's agent over RPC where the console listens (a driver without it: 400) → store a token
for that place (compute/consoleauth.py) → answer the URL holding the token. The console proxy
(compute/consoleproxy/) takes the token from there.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import Auth
from ministack.common.rpc.base import RemoteError, RpcError
from ministack.common.web import json_response
from ministack.compute import consoleauth, states
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import Api, api_of, caller, route, version
from ministack.compute.api.servers import load

RULE = "os_compute_api:os-remote-consoles"
TOKENS_RULE = "os_compute_api:os-console-auth-tokens"
REMOTE_CONSOLES = (2, 6)  # POST /remote-consoles appears, the actions go
TOKENS_ALL_TYPES = (2, 31)  # before: token details only for rdp-html5 consoles
# the old actions and the console types each accepts
ACTION_TYPES = {
    "os-getVNCConsole": "vnc",
    "os-getSerialConsole": "serial",
    "os-getSPICEConsole": "spice",
    "os-getRDPConsole": "rdp",
}


async def console_url(api: Api, inst: m.Instance, protocol: str, console_type: str) -> str:
    """A new token for the server's console and the URL holding it.

    400: a type this cloud does not serve, or the host's driver has no such console; 409: the
    server is not ACTIVE on a host, or its host does not answer."""
    if console_type not in consoleauth.PROTOCOL_TYPES.get(protocol, ()):
        raise errors.BadRequest(f"Invalid console type {console_type}")
    kind = consoleauth.CONSOLE_KINDS.get(console_type)
    if kind is None or not api.settings.console.enabled:
        raise errors.BadRequest(f"Unavailable console type {console_type}.")
    if inst.host is None or inst.vm_state != states.ACTIVE:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready")
    try:
        answer = await api.agent(inst.host).get_console(inst.uuid, kind)
    except RemoteError:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready") from None
    except RpcError:
        raise errors.Conflict(
            f"The console of instance {inst.uuid} is unavailable: its host {inst.host} does "
            "not answer."
        ) from None
    if answer.unavailable is not None:
        raise errors.BadRequest(f"Unavailable console type {console_type}: {answer.unavailable}.")
    where = consoleauth.Connection(
        instance_uuid=inst.uuid,
        console_type=console_type,
        host=answer.host,
        port=answer.port,
        internal_access_path=answer.path,
    )
    token = await consoleauth.issue(api.db, api.settings.console.token_ttl, where)
    return consoleauth.access_url(api.settings, console_type, token)


async def create_remote_console(request: Request) -> Response:
    if version(request) < REMOTE_CONSOLES:
        raise errors.NotFound("The resource could not be found.")
    body = validation.body(request)["remote_console"]
    auth = await caller(request, RULE)
    inst = await load(request, auth)
    protocol, console_type = body["protocol"], body["type"]
    url = await console_url(api_of(request), inst, protocol, console_type)
    return json_response(
        {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}
    )


async def console_action(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    """The pre-2.6 actions (the action's name is the body's one key); 404 from 2.6 on."""
    if version(request) >= REMOTE_CONSOLES:
        raise errors.NotFound("The resource could not be found.")
    name = next(iter(validation.body(request)))
    console_type = body["type"]
    url = await console_url(api, inst, ACTION_TYPES[name], console_type)
    return json_response({"console": {"type": console_type, "url": url}})


async def show_console_auth_token(request: Request) -> Response:
    await caller(request, TOKENS_RULE)
    token = request.path_params["console_token"]
    found = await consoleauth.show(api_of(request).db, token)
    if found is None:
        raise errors.NotFound("Token not found")
    if version(request) < TOKENS_ALL_TYPES and found.console_type != "rdp-html5":
        raise errors.Unauthorized("The requested console type details are not accessible")
    return json_response(
        {
            "console": {
                "instance_uuid": found.instance_uuid,
                "host": found.host,
                "port": found.port,
                "internal_access_path": found.internal_access_path,
            }
        }
    )


ROUTES: list[BaseRoute] = [
    route(
        "/v2.1/servers/{server_id}/remote-consoles",
        create_remote_console,
        "POST",
        body=schemas.create_remote_console,
    ),
    route("/v2.1/os-console-auth-tokens/{console_token}", show_console_auth_token, "GET"),
]
