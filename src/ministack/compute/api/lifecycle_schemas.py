"""Request schemas of the issue-15 server actions (shelve, unshelve, soft-delete restore,
rescue, createBackup, trigger_crash_dump), per microversion, as Nova declares them;
`schemas.server_action` includes them."""

from __future__ import annotations

from ministack.common import params as p

V = tuple[int, int]
VERSIONS = ("2.17", "2.77", "2.91")
"""The microversions at which these schemas change."""

_none = {"type": ["null", "object"]}
# Nova's non_negative_integer: an integer, or a string of digits
_non_negative = {"anyOf": [{"type": "integer", "minimum": 0}, p.query_int(0)]}


def _unshelve(v: V) -> p.Schema:
    if v < (2, 77):
        return {}  # Nova reads no unshelve body before 2.77
    if v < (2, 91):
        inner = p.obj({"availability_zone": p.name}, required=("availability_zone",))
        return {**inner, "type": ["object", "null"]}
    zone = {"oneOf": [{"type": "null"}, {"type": "string"}]}
    return {
        "oneOf": [p.obj({"availability_zone": zone, "host": {"type": "string"}}), {"type": "null"}]
    }


def actions(v: V) -> p.Schema:
    """The action name → body schema entries for microversion `v`."""
    crash_dump = {"trigger_crash_dump": {"type": "null"}} if v >= (2, 17) else {}
    return {
        **crash_dump,
        "shelve": _none,
        "shelveOffload": _none,
        "unshelve": _unshelve(v),
        "restore": _none,
        "forceDelete": _none,
        "rescue": {
            **p.obj({"adminPass": {"type": "string"}, "rescue_image_ref": p.uuid}),
            "type": ["object", "null"],
        },
        "unrescue": _none,
        "createBackup": p.obj(
            {
                "name": p.name,
                "backup_type": {"type": "string"},
                "rotation": _non_negative,
                "metadata": p.metadata,
            },
            required=("name", "backup_type", "rotation"),
        ),
    }
