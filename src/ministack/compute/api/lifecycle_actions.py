"""The server actions of issue 15 as `server_actions` dispatches them: each action's handler
and its policy rule (Nova's names; defaults in compute/policies.py)."""

from __future__ import annotations

from ministack.compute.api import deferred_delete, shelve_actions
from ministack.compute.api.actions import Handler

HANDLERS: dict[str, Handler] = {
    "shelve": shelve_actions.shelve,
    "shelveOffload": shelve_actions.shelve_offload,
    "unshelve": shelve_actions.unshelve,
    "restore": deferred_delete.restore,
    "forceDelete": deferred_delete.force_delete,
}
RULES: dict[str, str] = {
    "shelve": "os_compute_api:os-shelve:shelve",
    "shelveOffload": "os_compute_api:os-shelve:shelve_offload",
    "unshelve": "os_compute_api:os-shelve:unshelve",
    "restore": "os_compute_api:os-deferred-delete:restore",
    "forceDelete": "os_compute_api:os-deferred-delete:force",
}
NO_LOCK_CHECK: tuple[str, ...] = ()
