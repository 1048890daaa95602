"""The validation layer's two validators agree: fastjsonschema (the fast path that accepts)
and jsonschema (which explains a refusal) must take exactly the same requests, for every
schema a route declares. Also the shared parameter types, value by value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ministack.common import params as p
from ministack.common.validation import Compiled, Versions, compile_schema
from ministack.compute.api import schemas as compute
from ministack.identity.api import resources
from ministack.identity.api import schemas as identity
from ministack.identity.api.crud import LIST_QUERY, Collection, body_schemas
from ministack.image.api import schemas as image
from ministack.placement import schemas as placement

SPECIAL = [
    "",
    " ",
    "\x00",
    "a\nb",
    "\u202e",
    "../../x",
    "999.1.1.1",
    "::1",
    "10.0.0.1",
    "zz",
    "inf",
    "-1",
    "0",
    "1",
    "2147483648",
    "1.5",
    "true",
    "yes",
    "maybe",
    "auto",
    "none",
    "x" * 300,
    "gte:2026-01-01T00:00:00Z",
    "gte:notadate",
    "2026-01-01T00:00:00Z",
    "00000000-0000-4000-8000-000000000000",
    "aGVsbG8=",
    "SOFT",
    "ssh",
    "affinity",
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**33), 2**33),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(SPECIAL),
)
anything = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=5,
)


def instances(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like `schema` (its property names, enum members), and random ones."""
    if not isinstance(schema, dict) or depth > 4:
        return anything
    options: list[st.SearchStrategy[Any]] = [anything]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        options += [instances(sub, depth + 1) for sub in schema.get(key, [])]
    props = schema.get("properties")
    if props:
        shaped = {k: instances(v, depth + 1) for k, v in props.items()}
        options.append(st.fixed_dictionaries({}, optional={**shaped, "unknown": anything}))
    if schema.get("type") == "array":
        options.append(st.lists(instances(schema.get("items"), depth + 1), max_size=3))
    return st.one_of(options)


def declared() -> list[tuple[str, Compiled]]:
    out: list[tuple[str, Compiled]] = []
    for module in (compute, identity, image, placement):
        for name, value in vars(module).items():
            if isinstance(value, Versions):
                out += [(f"{module.__name__}.{name}@{v}", c) for v, c in value.items if c]
            elif (
                isinstance(value, dict)
                and value.get("type") == "object"
                and not name.startswith("_")
            ):
                out.append((f"{module.__name__}.{name}", compile_schema(value)))
    collections = [v for v in vars(resources).values() if isinstance(v, Collection)]
    for coll in collections:
        create, update = body_schemas(coll)
        out += [
            (f"{coll.plural}.create", compile_schema(create)),
            (f"{coll.plural}.update", compile_schema(update)),
        ]
    out.append(("identity list query", compile_schema(LIST_QUERY)))
    return out


SCHEMAS = declared()


@pytest.mark.parametrize(("name", "compiled"), SCHEMAS, ids=[n for n, _ in SCHEMAS])
def test_fast_and_explaining_validators_agree(name: str, compiled: Compiled) -> None:
    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(value=instances(compiled.schema))
    def agree(value: Any) -> None:
        assert compiled.fast_accepts(value) == (compiled.first_error(value) is None), value

    agree()


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (
            p.name,
            ["web-1", "ünïcode ok", "a b"],
            ["", " x", "x ", "a\x00", "a\nb", "a\u202eb", "x" * 256],
        ),
        (p.flavor_id, ["m1.tiny", "1", "a b"], ["../../x", "a/b", "..", ".", " a", "x" * 256]),
        (p.uuid, ["00000000-0000-4000-8000-000000000000", "0" * 32], ["nope", "0" * 31]),
        (p.ipv4, ["192.0.2.1"], ["999.1.1.1", "1.2.3", "::1"]),
        (p.ipv6, ["2001:db8::1", "::1"], ["zzzz", "192.0.2.1"]),
        (p.boolean, [True, "true", "yes", "0", "Off"], ["maybe", 1, None, "f", "y"]),
        (p.rxtx_factor, [1, 0.5, "1.5", "2"], [0, -1, "abc", "inf", "-1", "1e999", "0", True]),
        (p.positive_int, [1, "1", 2**31 - 1], [0, "0", -1, "x", 2**31, "2147483648", 1.5]),
        (p.limit, ["0", "10"], ["-1", "abc", "", "1.5"]),
        (p.sort_dir, ["asc", "desc"], ["sideways"]),
        (
            p.description,
            ["tab\\tand\\nline".replace("\\t", "\t").replace("\\n", "\n")],
            ["nul\x00", "x" * 256, "\u202e"],
        ),
    ],
)
def test_parameter_types(schema: p.Schema, good: list[Any], bad: list[Any]) -> None:
    compiled = compile_schema({"type": "object", "properties": {"v": schema}})
    for value in good:
        assert compiled.first_error({"v": value}) is None, value
        assert compiled.fast_accepts({"v": value}), value
    for value in bad:
        assert compiled.first_error({"v": value}) is not None, value
        assert not compiled.fast_accepts({"v": value}), value
