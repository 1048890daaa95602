"""The server actions of issue 15 as `server_actions` dispatches them: each action's handler
and its policy rule (Nova's names; defaults in compute/policies.py)."""

from __future__ import annotations

from ministack.compute.api import (
    backup_actions,
    crash_dump,
    deferred_delete,
    rescue_actions,
    shelve_actions,
)
from ministack.compute.api.actions import Handler

HANDLERS: dict[str, Handler] = {
    "shelve": shelve_actions.shelve,
    "shelveOffload": shelve_actions.shelve_offload,
    "unshelve": shelve_actions.unshelve,
    "restore": deferred_delete.restore,
    "forceDelete": deferred_delete.force_delete,
    "rescue": rescue_actions.rescue,
    "unrescue": rescue_actions.unrescue,
    "trigger_crash_dump": crash_dump.trigger_crash_dump,
    "createBackup": backup_actions.create_backup,
}
RULES: dict[str, str] = {
    "shelve": "os_compute_api:os-shelve:shelve",
    "shelveOffload": "os_compute_api:os-shelve:shelve_offload",
    "unshelve": "os_compute_api:os-shelve:unshelve",
    "restore": "os_compute_api:os-deferred-delete:restore",
    "forceDelete": "os_compute_api:os-deferred-delete:force",
    "rescue": "os_compute_api:os-rescue",
    "unrescue": "os_compute_api:os-unrescue",
    "trigger_crash_dump": "os_compute_api:servers:trigger_crash_dump",
    "createBackup": "os_compute_api:os-create-backup",
}
NO_LOCK_CHECK: tuple[str, ...] = ()
