"""Nova's instance states: vm_state, task_state, power_state, the status the API shows, and the
table of transitional states with who owns each, how long it may last and what a restart does.

Every state change in compute goes through a compare-and-swap on (vm_state, task_state), so two
actions racing on one server cannot both win (PROMISES 9); the loser gets 409.

The image service keeps its own table (image/states.py); tests/lifecycle/
test_kill_in_every_state.py walks both, killing the process in every row's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal


class PowerState(IntEnum):
    """Nova's power_state codes."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


# vm_state
ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESIZED = "resized"
ERROR = "error"
DELETED = "deleted"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"
SOFT_DELETED = "soft-delete"
RESCUED = "rescued"

# task_state
SCHEDULING = "scheduling"
NETWORKING = "networking"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
SPAWNING = "spawning"
DELETING = "deleting"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
REBUILDING = "rebuilding"
REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
REBUILD_SPAWNING = "rebuild_spawning"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_UPLOADING = "image_uploading"
IMAGE_BACKUP = "image_backup"
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
SOFT_DELETING = "soft-deleting"
RESTORING = "restoring"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
MIGRATING = "migrating"


@dataclass(frozen=True)
class PowerAction:
    """A power action: the task_state it runs in, the vm_state it ends in, its event."""

    task_state: str
    vm_state: str
    event: str


POWER_ACTIONS: dict[str, PowerAction] = {
    "stop": PowerAction(POWERING_OFF, STOPPED, "compute_stop_instance"),
    "start": PowerAction(POWERING_ON, ACTIVE, "compute_start_instance"),
    "reboot": PowerAction(REBOOTING, ACTIVE, "compute_reboot_instance"),
    "reboot_hard": PowerAction(REBOOTING_HARD, ACTIVE, "compute_reboot_instance"),
    "pause": PowerAction(PAUSING, PAUSED, "compute_pause_instance"),
    "unpause": PowerAction(UNPAUSING, ACTIVE, "compute_unpause_instance"),
    "suspend": PowerAction(SUSPENDING, SUSPENDED, "compute_suspend_instance"),
    "resume": PowerAction(RESUMING, ACTIVE, "compute_resume_instance"),
}

_STATUS: dict[str, dict[str | None, str]] = {
    ACTIVE: {
        None: "ACTIVE",
        REBOOTING: "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT",
        REBUILDING: "REBUILD",
        REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_FINISH: "RESIZE",
        MIGRATING: "MIGRATING",
    },
    BUILDING: {None: "BUILD"},
    STOPPED: {
        None: "SHUTOFF",
        REBUILDING: "REBUILD",
        REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_FINISH: "RESIZE",
        REBOOTING_HARD: "HARD_REBOOT",
    },
    RESIZED: {None: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {None: "PAUSED", REBOOTING_HARD: "HARD_REBOOT", MIGRATING: "MIGRATING"},
    SUSPENDED: {None: "SUSPENDED", REBOOTING_HARD: "HARD_REBOOT"},
    ERROR: {
        None: "ERROR",
        REBUILDING: "REBUILD",
        REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
    },
    DELETED: {None: "DELETED"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
    SOFT_DELETED: {None: "SOFT_DELETED"},
    RESCUED: {None: "RESCUE"},
}

# The API's status filter (?status=...) maps back to vm_states (Nova's reverse map).
STATUS_TO_VM_STATES: dict[str, tuple[str, ...]] = {
    "ACTIVE": (ACTIVE,),
    "BUILD": (BUILDING,),
    "SHUTOFF": (STOPPED,),
    "PAUSED": (PAUSED,),
    "SUSPENDED": (SUSPENDED,),
    "VERIFY_RESIZE": (RESIZED,),
    "ERROR": (ERROR,),
    "DELETED": (DELETED,),
    "REBOOT": (ACTIVE,),
    "HARD_REBOOT": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "RESIZE": (ACTIVE, STOPPED),
    "REBUILD": (ACTIVE, STOPPED, ERROR),
    "REVERT_RESIZE": (RESIZED,),
    "SHELVED": (SHELVED,),
    "SHELVED_OFFLOADED": (SHELVED_OFFLOADED,),
    "SOFT_DELETED": (SOFT_DELETED,),
    "RESCUE": (RESCUED,),
    "MIGRATING": (ACTIVE, PAUSED),
}


def status(vm_state: str, task_state: str | None) -> str:
    """The `status` field the API shows for (vm_state, task_state), exactly as Nova maps it."""
    table = _STATUS.get(vm_state, {None: "UNKNOWN"})
    return table.get(task_state, table[None])


def power_state_for(vm_state: str) -> PowerState:
    """The power_state an instance settles in after reaching vm_state."""
    return {
        ACTIVE: PowerState.RUNNING,
        STOPPED: PowerState.SHUTDOWN,
        PAUSED: PowerState.PAUSED,
        SUSPENDED: PowerState.SUSPENDED,
        RESIZED: PowerState.RUNNING,
        RESCUED: PowerState.RUNNING,
        SHELVED: PowerState.SHUTDOWN,
        SOFT_DELETED: PowerState.SHUTDOWN,
    }.get(vm_state, PowerState.NOSTATE)


Owner = Literal["conductor", "agent"]
Restart = Literal["error", "resume", "clear"]


@dataclass(frozen=True)
class Transitional:
    """A transitional task_state: who moves it on, how long it may last, what a restart does.

    restart: "error" sets vm_state ERROR with a fault; "resume" redoes the work (delete);
    "clear" drops the task_state and takes vm_state/power_state from the hypervisor.
    """

    task_state: str
    owner: Owner
    timeout: float
    restart: Restart


BUILD_TIMEOUT = 600.0
ACTION_TIMEOUT = 300.0

TRANSITIONAL: tuple[Transitional, ...] = (
    Transitional(SCHEDULING, "conductor", BUILD_TIMEOUT, "error"),
    Transitional(NETWORKING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(BLOCK_DEVICE_MAPPING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(SPAWNING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(DELETING, "agent", ACTION_TIMEOUT, "resume"),
    Transitional(POWERING_OFF, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(POWERING_ON, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(REBOOTING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(REBOOTING_HARD, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(PAUSING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(UNPAUSING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(SUSPENDING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(RESUMING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(REBUILDING, "agent", BUILD_TIMEOUT, "error"),
    # the old guest destroyed; a volume-backed server's root volume being re-imaged
    Transitional(REBUILD_BLOCK_DEVICE_MAPPING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(REBUILD_SPAWNING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(RESIZE_PREP, "agent", BUILD_TIMEOUT, "error"),
    Transitional(RESIZE_MIGRATING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(RESIZE_FINISH, "agent", BUILD_TIMEOUT, "error"),
    Transitional(RESIZE_REVERTING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(RESIZE_CONFIRMING, "agent", BUILD_TIMEOUT, "error"),
    Transitional(IMAGE_SNAPSHOT, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(IMAGE_UPLOADING, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(IMAGE_BACKUP, "agent", BUILD_TIMEOUT, "clear"),
    # shelve: until the guest is destroyed a restart finds it and clears the task
    Transitional(SHELVING, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(SHELVING_IMAGE_PENDING_UPLOAD, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(SHELVING_IMAGE_UPLOADING, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(SHELVING_OFFLOADING, "agent", ACTION_TIMEOUT, "clear"),
    # unshelve: scheduled by the conductor (no host while offloaded), spawned by the agent
    Transitional(UNSHELVING, "conductor", BUILD_TIMEOUT, "error"),
    Transitional(SOFT_DELETING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(RESTORING, "agent", ACTION_TIMEOUT, "clear"),
    Transitional(RESCUING, "agent", BUILD_TIMEOUT, "clear"),
    Transitional(UNRESCUING, "agent", BUILD_TIMEOUT, "clear"),
    # the source host's agent drives a live migration; after its restart the guest is still
    # the source's (the migration is failed and its claims given back: agent/migrate.py)
    Transitional(MIGRATING, "agent", BUILD_TIMEOUT, "clear"),
)
BY_TASK_STATE = {t.task_state: t for t in TRANSITIONAL}

# A block device mapping's status (compute_block_device_mappings.status): pending (the
# user's volume, not yet attached by the build), creating (compute makes the volume),
# attaching, attached, detaching.
BDM_PENDING = "pending"
BDM_CREATING = "creating"
BDM_ATTACHING = "attaching"
BDM_ATTACHED = "attached"
BDM_DETACHING = "detaching"
BdmRestart = Literal["discard", "resume"]
VOLUME_CREATE_TIMEOUT = 600.0  # a boot volume made from an image (Cinder copies it)


@dataclass(frozen=True)
class BdmTransitional:
    """A transitional mapping status: its owner, timeout and restart rule.

    restart: "discard" (the build it belongs to is ERROR: attachments and the volumes compute
    made are deleted, the mappings forgotten); "resume" (the attach or detach runs again).
    """

    status: str
    owner: Owner
    timeout: float
    restart: BdmRestart


BDM_TRANSITIONAL: tuple[BdmTransitional, ...] = (
    BdmTransitional(BDM_PENDING, "agent", BUILD_TIMEOUT, "discard"),
    BdmTransitional(BDM_CREATING, "agent", VOLUME_CREATE_TIMEOUT, "discard"),
    BdmTransitional(BDM_ATTACHING, "agent", ACTION_TIMEOUT, "resume"),
    BdmTransitional(BDM_DETACHING, "agent", ACTION_TIMEOUT, "resume"),
)
BDM_TRANSITIONAL_BY_STATUS = {t.status: t for t in BDM_TRANSITIONAL}

# Which vm_states each action may start from (Nova's check_instance_state); task_state None.
ALLOWED: dict[str, tuple[str, ...]] = {
    "stop": (ACTIVE, ERROR),
    "start": (STOPPED,),
    "reboot": (ACTIVE,),
    "reboot_hard": (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR),
    "pause": (ACTIVE,),
    "unpause": (PAUSED,),
    "suspend": (ACTIVE,),
    "resume": (SUSPENDED,),
    "rebuild": (ACTIVE, STOPPED, ERROR),
    "resize": (ACTIVE, STOPPED),
    "confirmResize": (RESIZED,),
    "revertResize": (RESIZED,),
    "createImage": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "createBackup": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "shelve": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "shelveOffload": (SHELVED,),
    "unshelve": (SHELVED, SHELVED_OFFLOADED),
    "restore": (SOFT_DELETED,),
    "rescue": (ACTIVE, STOPPED, ERROR),
    "unrescue": (RESCUED,),
    "trigger_crash_dump": (ACTIVE, PAUSED, RESCUED),
    "migrate": (ACTIVE, STOPPED),
    "live-migration": (ACTIVE, PAUSED),
    "evacuate": (ACTIVE, STOPPED, ERROR),
}
