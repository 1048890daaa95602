"""The admin resources' routes in one list: hypervisors, services, aggregates, events."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ministack.compute.api import aggregates, events, hypervisors, services

ROUTES: list[BaseRoute] = [
    *hypervisors.ROUTES,
    *services.ROUTES,
    *aggregates.ROUTES,
    *events.ROUTES,
]
