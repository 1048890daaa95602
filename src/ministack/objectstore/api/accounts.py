"""Account requests: HEAD/GET (stats, metadata, container listing) and POST (metadata).

An account exists implicitly for every project (Swift's account_autocreate): before its first
container or metadata write it reads as empty.
"""

from __future__ import annotations

from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore import policies
from ministack.objectstore.api import listings, wire
from ministack.objectstore.api.app import Call
from ministack.objectstore.store import AccountInfo

RESELLER_KEYS = ("quota-bytes",)


def account_headers(info: AccountInfo) -> dict[str, str]:
    stamp = info.created_at or 0.0
    headers = {
        "X-Account-Container-Count": str(info.container_count),
        "X-Account-Object-Count": str(info.object_count),
        "X-Account-Bytes-Used": str(info.bytes_used),
        "X-Account-Storage-Policy-Policy-0-Container-Count": str(info.container_count),
        "X-Account-Storage-Policy-Policy-0-Object-Count": str(info.object_count),
        "X-Account-Storage-Policy-Policy-0-Bytes-Used": str(info.bytes_used),
        "X-Timestamp": wire.x_timestamp(stamp),
        "X-Put-Timestamp": wire.x_timestamp(stamp),
        "Accept-Ranges": "bytes",
        **wire.meta_headers(info.meta, "account"),
    }
    if stamp:
        headers["Last-Modified"] = wire.http_date(stamp)
    return headers


async def head_account(call: Call) -> Response:
    info = await call.deps.records.account(call.account)
    headers = account_headers(info)
    headers["Content-Length"] = "0"
    return Response(status_code=204, headers=headers, media_type="text/plain; charset=utf-8")


async def get_account(call: Call) -> Response:
    records = call.deps.records
    info = await records.account(call.account)
    q = listings.listing_query(call.request, call.deps.settings.container_listing_limit)
    rows = await records.list_containers(call.account, q)
    fmt = listings.listing_format(call.request)
    return listings.render(
        rows,
        fmt,
        root="account",
        name=f"AUTH_{call.account}",
        item="container",
        headers=account_headers(info),
    )


async def post_account(call: Call) -> Response:
    changes = wire.meta_changes(call.request.headers, "account")
    quota_keys = [k for k in changes if k in RESELLER_KEYS]
    if quota_keys:
        if call.auth is None or not policies.allows(call.auth, "reseller_admin", call.account):
            raise errors.Forbidden("Only a reseller admin sets an account quota.")
        for key in quota_keys:
            if changes[key] and not changes[key].lstrip("-").isdigit():
                raise errors.BadRequest(f"X-Account-Meta-{key} must be an integer.")
    await call.deps.records.update_account_meta(call.account, changes)
    return Response(status_code=204, headers={"Content-Length": "0"})
