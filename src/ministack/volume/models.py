"""Volume tables: volumes with their metadata, volume types (extra specs, access), snapshots,
attachments, transfers and per-project quota limits (Cinder's schema, trimmed).

Rows are deleted outright when their resource is gone (Cinder soft-deletes; nothing here
reads deleted rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ministack.common.db import Base, utcnow


class Volume(Base):
    __tablename__ = "volume_volumes"
    __table_args__ = (Index("ix_volume_volumes_project_created", "project_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    availability_zone: Mapped[str] = mapped_column(String(255))
    volume_type_id: Mapped[str] = mapped_column(String(36))
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_volid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # False once a create failed (its quota given back) or for Cinder's temporary volumes
    consumes_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    # why the volume is in error (Cinder keeps it in its messages API; shown to admins)
    fault: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the size before an extend, so a failed extend can give back its quota
    previous_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class VolumeMetadata(Base):
    """A metadata item of a volume: `kind` user (metadata), image (volume_image_metadata)
    or admin (readonly, attached_mode)."""

    __tablename__ = "volume_metadata"
    volume_id: Mapped[str] = mapped_column(
        ForeignKey("volume_volumes.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VolumeType(Base):
    __tablename__ = "volume_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class VolumeTypeExtraSpec(Base):
    __tablename__ = "volume_type_extra_specs"
    type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VolumeTypeProject(Base):
    """A project a private volume type is shared with."""

    __tablename__ = "volume_type_projects"
    type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Snapshot(Base):
    __tablename__ = "volume_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    progress: Mapped[str] = mapped_column(String(8), default="0%")
    fault: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SnapshotMetadata(Base):
    __tablename__ = "volume_snapshot_metadata"
    snapshot_id: Mapped[str] = mapped_column(
        ForeignKey("volume_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Attachment(Base):
    """One attachment of a volume to an instance (Cinder's volume_attachment)."""

    __tablename__ = "volume_attachments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    instance_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    attached_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mountpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attach_mode: Mapped[str] = mapped_column(String(4), default="rw")
    attach_status: Mapped[str] = mapped_column(String(32))
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attach_time: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    detach_time: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Transfer(Base):
    """An offer to hand a volume to another project; accepted with its auth key."""

    __tablename__ = "volume_transfers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    salt: Mapped[str] = mapped_column(String(32))
    crypt_hash: Mapped[str] = mapped_column(String(128))
    no_snapshots: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QuotaLimit(Base):
    """A project's own limit for one resource (absent: Cinder's default)."""

    __tablename__ = "volume_quotas"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger)


class ProjectLock(Base):
    """One row per project, locked FOR UPDATE to serialise quota claims (PostgreSQL)."""

    __tablename__ = "volume_project_locks"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
