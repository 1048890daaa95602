"""Request schemas of the actions that move a server between hosts, per microversion, as Nova
declares them (migrate: a host from 2.56; os-migrateLive: disk_over_commit before 2.25, then
block_migration "auto", force 2.30-2.67; evacuate: onSharedStorage before 2.14, force
2.29-2.67), and of a live migration's force_complete. `schemas.server_action` includes them."""

from __future__ import annotations

from ministack.common import params as p

V = tuple[int, int]


def migrate(v: V) -> p.Schema:
    if v < (2, 56):
        return {"type": ["null", "object"]}  # Nova reads no body before 2.56
    return {**p.obj({"host": p.hostname}), "type": ["object", "null"]}


def migrate_live(v: V) -> p.Schema:
    props: p.Schema = {"host": p.nullable(p.hostname)}
    if v < (2, 25):
        props.update(block_migration=p.boolean, disk_over_commit=p.boolean)
        return p.obj(props, required=("block_migration", "disk_over_commit", "host"))
    props["block_migration"] = {"anyOf": [p.boolean, p.enum("auto")]}
    if (2, 30) <= v < (2, 68):
        props["force"] = p.boolean
    return p.obj(props, required=("block_migration", "host"))


def evacuate(v: V) -> p.Schema:
    props: p.Schema = {"host": p.hostname, "adminPass": {"type": "string", "maxLength": 255}}
    if v < (2, 14):
        props["onSharedStorage"] = p.boolean
        return p.obj(props, required=("onSharedStorage",))
    if (2, 29) <= v < (2, 68):
        props["force"] = p.boolean
    return p.obj(props)


force_complete = p.obj({"force_complete": {"type": "null"}}, required=("force_complete",))
