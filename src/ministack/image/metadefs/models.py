"""Metadef tables: namespaces and what they hold (objects, properties, tags), resource types
and which namespaces apply to them. A property's or object's JSON Schema is kept as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ministack.common.db import Base, utcnow

NAME_LENGTH = 80  # Glance's limit for every metadef name


class MetadefNamespace(Base):
    __tablename__ = "image_metadef_namespaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    visibility: Mapped[str] = mapped_column(String(32), default="private")
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def _namespace_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("image_metadef_namespaces.id", ondelete="CASCADE"), index=True)


class MetadefObject(Base):
    __tablename__ = "image_metadef_objects"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    required: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MetadefProperty(Base):
    __tablename__ = "image_metadef_properties"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # title, type, enum, minimum, ...: everything but the name
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MetadefTag(Base):
    __tablename__ = "image_metadef_tags"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MetadefResourceType(Base):
    __tablename__ = "image_metadef_resource_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MetadefAssociation(Base):
    """A namespace applies to a resource type (with the key prefix to use there)."""

    __tablename__ = "image_metadef_associations"
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("image_metadef_namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    resource_type_id: Mapped[int] = mapped_column(
        ForeignKey("image_metadef_resource_types.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    properties_target: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
