"""Object storage tables: accounts, containers and objects, with the counters listings need.

The data itself lives in a backend (`backend.py`); a row names it by `location`. Object names
sort by their bytes on every database (PostgreSQL: the "C" collation), as Swift lists them, so
a prefix, marker or delimiter query is a range scan of the (container_id, name) key.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ministack.common.db import Base

OBJECT_NAME = String(1024).with_variant(String(1024, collation="C"), "postgresql")
CONTAINER_NAME = String(256).with_variant(String(256, collation="C"), "postgresql")


class Account(Base):
    """A project's account: created by its first container or metadata write."""

    __tablename__ = "objstore_accounts"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: lower-cased name -> value
    container_count: Mapped[int] = mapped_column(BigInteger, default=0)
    object_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float(precision=53))


class Container(Base):
    __tablename__ = "objstore_containers"
    __table_args__ = (Index("ix_objstore_containers_account_name", "account", "name", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(CONTAINER_NAME)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: lower-cased name -> value
    read_acl: Mapped[str] = mapped_column(Text, default="")
    write_acl: Mapped[str] = mapped_column(Text, default="")
    object_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float(precision=53))
    updated_at: Mapped[float] = mapped_column(Float(precision=53))


class Object(Base):
    """One object's current version. `size` and `etag` are what listings show (a static large
    object's total and Swift's manifest etag); `stored_size` and `sha256` describe the bytes
    the backend holds at `location`, which the auditor checks."""

    __tablename__ = "objstore_objects"
    __table_args__ = (
        Index("ix_objstore_objects_delete_at", "delete_at"),
        Index("ix_objstore_objects_location", "location"),  # the auditor's orphan check
    )
    container_id: Mapped[int] = mapped_column(
        ForeignKey("objstore_containers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(OBJECT_NAME, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(256))
    last_modified: Mapped[float] = mapped_column(Float(precision=53))
    delete_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: header name -> value
    kind: Mapped[str] = mapped_column(String(8), default="")  # "", "dlo" or "slo"
    location: Mapped[str] = mapped_column(String(255))
    stored_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
