"""Instance usage audit logs (Nova's /os-instance_usage_audit_log): per compute host, whether
the periodic usage audit ran for the last completed month.

ministack runs no usage audit task (Nova's `instance_usage_audit` is off by default too), so
every compute host, disabled ones included, is reported as not run — the body Nova renders
in that configuration. The show form takes a "before" time and reports the month completed
before it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors
from ministack.common.db import utcnow
from ministack.common.web import json_response
from ministack.compute import servicegroup
from ministack.compute.api.common import api_of, caller, route


def last_completed_month(before: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The month before the one `before` falls in (Nova's default audit period)."""
    end = dt.datetime(before.year, before.month, 1)
    first = dt.datetime(end.year - 1, 12, 1) if end.month == 1 else end.replace(month=end.month - 1)
    return first, end


def audit_log(hosts: list[str], before: dt.datetime) -> dict[str, Any]:
    """The audit summary for the month completed before `before`: no host has run it."""
    begin, end = last_completed_month(before)
    # Nova's wording: "ALL" when every host is done (so also when there are none)
    done = "ALL" if not hosts else f"0 of {len(hosts)}"
    return {
        "period_beginning": str(begin),
        "period_ending": str(end),
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_running": 0,
        "num_hosts_not_run": len(hosts),
        "hosts_not_run": hosts,
        "total_instances": 0,
        "total_errors": 0,
        "overall_status": f"{done} hosts done. 0 errors.",
        "log": {},
    }


async def _hosts(request: Request) -> list[str]:
    return sorted(await servicegroup.compute_services(api_of(request).db))


async def list_audit_logs(request: Request) -> Response:
    await caller(request, "os_compute_api:os-instance-usage-audit-log:list")
    body = audit_log(await _hosts(request), utcnow())
    return json_response({"instance_usage_audit_logs": body})


async def show_audit_log(request: Request) -> Response:
    await caller(request, "os_compute_api:os-instance-usage-audit-log:show")
    raw = request.path_params["before"]
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in raw else "%Y-%m-%d %H:%M:%S"
    try:
        before = dt.datetime.strptime(raw, fmt)
    except ValueError:
        raise errors.BadRequest(f"Invalid timestamp for date {raw}") from None
    body = audit_log(await _hosts(request), before)
    return json_response({"instance_usage_audit_log": body})


ROUTES: list[BaseRoute] = [
    route("/v2.1/os-instance_usage_audit_log", list_audit_logs, "GET"),
    route("/v2.1/os-instance_usage_audit_log/{before}", show_audit_log, "GET"),
]
