"""Volume and snapshot statuses (Cinder's), and the one table of the transitional ones: who
moves each on, how long it may last, and what a restart of the volume service does with a
resource it finds there (PROMISES 4 and 5).

Restart rules, as Cinder's volume manager applies them in init_host:
- "error": the work was interrupted; the resource goes error with a fault, its partial data
  is removed and (for a volume being created) its quota is given back. A volume
  `downloading` for os-reimage (made before: launched_at set) keeps its old data instead
  and goes back to the status its attachments give it, with the fault.
- "resume_delete": the delete is carried out again (every backend delete is idempotent).
- "restore": back to available (in-use when attached); the interrupted work left no change.
- "error_extending": the volume keeps its old size, status error_extending.
- "keep": owned by another service (the compute host attaching or detaching); a restart of
  the volume service does not end that work, so the row is left for its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# volume statuses
CREATING = "creating"
AVAILABLE = "available"
RESERVED = "reserved"
ATTACHING = "attaching"
IN_USE = "in-use"
DETACHING = "detaching"
EXTENDING = "extending"
UPLOADING = "uploading"
DOWNLOADING = "downloading"
DELETING = "deleting"
ERROR = "error"
ERROR_DELETING = "error_deleting"
ERROR_EXTENDING = "error_extending"
AWAITING_TRANSFER = "awaiting-transfer"
VOLUME_STATUSES = (
    CREATING,
    AVAILABLE,
    RESERVED,
    ATTACHING,
    IN_USE,
    DETACHING,
    EXTENDING,
    UPLOADING,
    DOWNLOADING,
    DELETING,
    ERROR,
    ERROR_DELETING,
    ERROR_EXTENDING,
    AWAITING_TRANSFER,
    "maintenance",
    "backing-up",
    "restoring-backup",
    "error_restoring",
    "retyping",
)

# attach_status of a volume and of an attachment
DETACHED = "detached"
ATTACHED = "attached"
ATTACHING_STATUS = "attaching"
DETACHING_STATUS = "detaching"
RESERVED_STATUS = "reserved"
ERROR_ATTACHING = "error_attaching"

# snapshot statuses
SNAPSHOT_STATUSES = (CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING)

Owner = Literal["volume manager", "compute host"]
Restart = Literal["error", "resume_delete", "restore", "error_extending", "keep"]
Kind = Literal["volume", "snapshot"]

CREATE_TIMEOUT = 1800.0  # [volume] create_timeout's default: creating or downloading
OPERATION_TIMEOUT = 1800.0  # deleting, extending, uploading (RPC long-call limit)
ATTACH_TIMEOUT = 600.0  # reserved/attaching/detaching: a compute host finishing an attach


@dataclass(frozen=True)
class Transitional:
    """A transitional status of a volume or snapshot: owner, timeout (seconds), restart rule."""

    kind: Kind
    status: str
    owner: Owner
    timeout: float
    restart: Restart


TRANSITIONAL: tuple[Transitional, ...] = (
    Transitional("volume", CREATING, "volume manager", CREATE_TIMEOUT, "error"),
    # downloading: an image written onto a new volume, or onto a made one (os-reimage)
    Transitional("volume", DOWNLOADING, "volume manager", CREATE_TIMEOUT, "error"),
    Transitional("volume", DELETING, "volume manager", OPERATION_TIMEOUT, "resume_delete"),
    Transitional("volume", EXTENDING, "volume manager", OPERATION_TIMEOUT, "error_extending"),
    Transitional("volume", UPLOADING, "volume manager", OPERATION_TIMEOUT, "restore"),
    Transitional("volume", RESERVED, "compute host", ATTACH_TIMEOUT, "keep"),
    Transitional("volume", ATTACHING, "compute host", ATTACH_TIMEOUT, "keep"),
    Transitional("volume", DETACHING, "compute host", ATTACH_TIMEOUT, "keep"),
    Transitional("snapshot", CREATING, "volume manager", CREATE_TIMEOUT, "error"),
    Transitional("snapshot", DELETING, "volume manager", OPERATION_TIMEOUT, "resume_delete"),
)


def rows(kind: Kind) -> dict[str, Transitional]:
    """The table's rows for volumes or snapshots, by status."""
    return {t.status: t for t in TRANSITIONAL if t.kind == kind}
