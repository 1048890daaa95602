"""The image statuses that are transitional: who moves each on, how long it may last, and
what a restart of the image service does with an image it finds there (PROMISES 4).

Every transitional status of the image service is owned by the HTTP request that entered it
(an upload, a stage or an import): no background worker carries it on. So the timeout is the
request's — an upload whose client sends nothing for `UPLOAD_IDLE_TIMEOUT` seconds is
abandoned — and a restart, which ends every request, applies the rule below. Glance leaves
such images where they were (a kill during PUT /stage left one `uploading` for ever); here the
rule is the one the image service already applied to interrupted uploads: back to `queued`
with the partial or staged data removed, so upload, stage and import work again.

`uploading` is two things in Glance's model: a stage in flight (transitional) and staged data
waiting for its import (at rest, the client's move). Only the first is reset; staged data
whose file survived stays `uploading` and can still be imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ministack.image import constants as c

Owner = Literal["upload request", "stage request", "import request"]
Restart = Literal["queued"]

UPLOAD_IDLE_TIMEOUT = 300.0  # seconds without a byte from the client before an upload ends


@dataclass(frozen=True)
class Transitional:
    """A transitional image status: its owner, its timeout (seconds) and its restart rule.

    restart "queued": the image goes back to queued with no data, checksum or staged size,
    and the files the interrupted request wrote (scratch and staging) are removed.
    """

    status: str
    owner: Owner
    timeout: float
    restart: Restart


TRANSITIONAL: tuple[Transitional, ...] = (
    Transitional(c.SAVING, "upload request", UPLOAD_IDLE_TIMEOUT, "queued"),
    Transitional(c.UPLOADING, "stage request", UPLOAD_IDLE_TIMEOUT, "queued"),
    Transitional(c.IMPORTING, "import request", UPLOAD_IDLE_TIMEOUT, "queued"),
)
BY_STATUS = {t.status: t for t in TRANSITIONAL}
