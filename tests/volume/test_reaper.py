"""The timeouts of `volume/states.py` enforced by the manager's reaper (fake time): no volume
or snapshot stays in a transitional status for ever (PROMISES 4)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ministack.common.db import Database, upgrade, utcnow
from ministack.volume import models as m
from ministack.volume import states as st
from ministack.volume.backends.file import FileBackend
from ministack.volume.manager import VolumeManager

HOST = "h@file#file"


def _volume(ident: str, status: str, **extra: Any) -> m.Volume:
    return m.Volume(
        id=ident,
        project_id="p",
        user_id="u",
        size=1,
        status=status,
        availability_zone="nova",
        volume_type_id="t",
        host=HOST,
        **extra,
    )


async def test_reaper_moves_on_everything_that_outstayed_its_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.writer() as s:
            for status in st.rows("volume"):
                s.add(_volume(status, status))
            s.add(_volume("extend", st.EXTENDING, previous_size=1))
            s.add(_volume("fresh", st.CREATING))
            s.add(_volume("snapvol", st.AVAILABLE))
            for status in st.rows("snapshot"):
                s.add(
                    m.Snapshot(
                        id=f"s-{status}",
                        volume_id="snapvol",
                        project_id="p",
                        user_id="u",
                        size=1,
                        status=status,
                    )
                )
            await s.flush()
            s.add(
                m.Attachment(
                    id="a1",
                    volume_id=st.ATTACHING,
                    project_id="p",
                    attach_status=st.ATTACHING_STATUS,
                    connector={"host": "x"},
                )
            )
        manager = VolumeManager(db, FileBackend(tmp_path / "v"), None, HOST)  # type: ignore[arg-type]
        assert await manager.reap(utcnow()) == []  # nothing is late yet
        later = utcnow() + dt.timedelta(seconds=max(t.timeout for t in st.TRANSITIONAL) + 1)
        async with db.writer() as s:  # "fresh" started just now, in the future's terms
            fresh = await s.get(m.Volume, "fresh")
            assert fresh is not None
            fresh.updated_at = later
        moved = await manager.reap(later)
        assert "fresh" not in moved
        async with db.session() as s:
            status = {v.id: v.status for v in (await s.execute(select(m.Volume))).scalars()}
            snaps = {x.id: x.status for x in (await s.execute(select(m.Snapshot))).scalars()}
            attachments = (await s.execute(select(m.Attachment))).scalars().all()
        assert status[st.CREATING] == status[st.DOWNLOADING] == st.ERROR
        assert status[st.DELETING] == st.ERROR_DELETING
        assert status["extend"] == st.ERROR_EXTENDING
        assert status[st.UPLOADING] == st.AVAILABLE
        assert status[st.RESERVED] == status[st.ATTACHING] == status[st.DETACHING] == st.AVAILABLE
        assert attachments == []
        assert status["fresh"] == st.CREATING
        assert snaps == {f"s-{st.CREATING}": st.ERROR, f"s-{st.DELETING}": st.ERROR_DELETING}
    finally:
        await db.close()


async def test_an_interrupted_reimage_keeps_the_volume_and_its_data(tmp_path: Path) -> None:
    """A volume downloading for os-reimage (it was made before: launched_at) that outstays
    its timeout, or whose manager restarts, keeps its data and goes back to the status its
    attachments give it (reserved: a server's rebuild holds it), with the reason as fault;
    a volume downloading for its create still goes error."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    backend = FileBackend(tmp_path / "v")
    try:
        async with db.writer() as s:
            for ident in ("late", "restarted"):
                s.add(_volume(ident, st.DOWNLOADING, launched_at=utcnow()))
            s.add(_volume("new", st.DOWNLOADING))
            await s.flush()
            s.add(
                m.Attachment(
                    id="held",
                    volume_id="late",
                    project_id="p",
                    instance_uuid="i1",
                    attach_status=st.RESERVED_STATUS,
                )
            )
        for ident in ("late", "restarted"):
            backend.volume_path(ident).write_bytes(b"data")
        manager = VolumeManager(db, backend, None, HOST)  # type: ignore[arg-type]
        later = utcnow() + dt.timedelta(seconds=st.CREATE_TIMEOUT + 1)
        assert sorted(await manager.reap(later)) == ["late", "new", "restarted"]
        async with db.writer() as s:
            restarted = await s.get(m.Volume, "restarted")
            assert restarted is not None
            restarted.status, restarted.fault = st.DOWNLOADING, None
        await manager.reconcile()
        async with db.session() as s:
            rows = {v.id: v for v in (await s.execute(select(m.Volume))).scalars()}
        assert (rows["late"].status, rows["late"].attach_status) == (st.RESERVED, st.DETACHED)
        assert "longer than" in (rows["late"].fault or "")
        assert rows["restarted"].status == st.AVAILABLE
        assert "keeps its previous data" in (rows["restarted"].fault or "")
        assert rows["new"].status == st.ERROR
        assert backend.volume_path("late").read_bytes() == b"data"
        assert backend.volume_path("restarted").read_bytes() == b"data"
    finally:
        await db.close()
