"""Accounts and containers through python-swiftclient and raw HTTP: create, metadata,
listings in every format with every parameter, and the refusals (400, 404, 409)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made


def test_container_lifecycle_and_metadata(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique()
    conn.put_container(name, headers={"X-Container-Meta-Colour": "blue"})
    head = conn.head_container(name)
    assert head["x-container-meta-colour"] == "blue"
    assert head["x-container-object-count"] == "0"
    assert head["x-storage-policy"] == "Policy-0"
    assert "x-timestamp" in head and "x-trans-id" in head
    assert head["x-openstack-request-id"] == head["x-trans-id"]
    conn.post_container(
        name, {"X-Container-Meta-Size": "big", "X-Remove-Container-Meta-Colour": "x"}
    )
    head = conn.head_container(name)
    assert head["x-container-meta-size"] == "big"
    assert "x-container-meta-colour" not in head
    _headers, containers = conn.get_account()
    assert name in [c["name"] for c in containers]
    conn.delete_container(name)
    with pytest.raises(swiftclient.ClientException) as err:
        conn.head_container(name)
    assert err.value.http_status == 404


def test_account_stats_and_metadata(object_env: Env) -> None:
    conn = object_env.swift("b_member")
    name = unique()
    conn.put_container(name)
    conn.put_object(name, "one", b"12345")
    conn.post_account({"X-Account-Meta-Owner": "team-b"})
    head = conn.head_account()
    assert int(head["x-account-container-count"]) >= 1
    assert int(head["x-account-object-count"]) >= 1
    assert int(head["x-account-bytes-used"]) >= 5
    assert head["x-account-meta-owner"] == "team-b"
    conn.delete_object(name, "one")
    conn.delete_container(name)


def test_deleting_a_non_empty_container_is_409(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique()
    conn.put_container(name)
    conn.put_object(name, "keep", b"x")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.delete_container(name)
    assert err.value.http_status == 409
    assert conn.head_object(name, "keep")["content-length"] == "1"


def test_bad_names_are_400(object_env: Env) -> None:
    with object_env.http("a_member") as http:
        base = f"/v1/{object_env.people['a_member'].account}"
        with nothing_made(object_env.cloud):
            assert http.put(f"{base}/{'c' * 257}").status_code == 400
            assert http.put(f"{base}/with%2Fslash").status_code == 400
        http.put(f"{base}/names-ok")
        with nothing_made(object_env.cloud):
            resp = http.put(f"{base}/names-ok/{'o' * 1025}", content=b"x")
            assert resp.status_code == 400
        assert http.put(f"{base}/names-ok/{'o' * 1024}", content=b"x").status_code == 201
        assert http.put(f"{base}/{'c' * 256}").status_code == 201


def _fill(conn: swiftclient.Connection, name: str) -> list[str]:
    names = ["a.txt", "b/1", "b/2", "b/c/3", "c/x", "d", "é-accent"]
    conn.put_container(name)
    for obj in names:
        conn.put_object(name, obj, obj.encode())
    return names


def test_listing_parameters(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique()
    names = _fill(conn, name)

    def listed(**kw: object) -> list[str]:
        _h, rows = conn.get_container(name, full_listing=False, **kw)
        return [r.get("name", r.get("subdir")) for r in rows]

    assert listed() == sorted(names, key=lambda n: n.encode())
    assert listed(prefix="b/") == ["b/1", "b/2", "b/c/3"]
    assert listed(delimiter="/") == ["a.txt", "b/", "c/", "d", "é-accent"]
    assert listed(prefix="b/", delimiter="/") == ["b/1", "b/2", "b/c/"]
    assert listed(marker="b/2") == ["b/c/3", "c/x", "d", "é-accent"]
    assert listed(end_marker="b/2") == ["a.txt", "b/1"]
    assert listed(limit=2) == ["a.txt", "b/1"]
    assert listed(query_string="reverse=true&limit=3") == ["é-accent", "d", "c/x"]
    assert listed(query_string="reverse=true&delimiter=/") == ["é-accent", "d", "c/", "b/", "a.txt"]
    assert listed(query_string="reverse=true&marker=c/x&end_marker=b/1") == ["b/c/3", "b/2"]
    row = next(r for r in conn.get_container(name)[1] if r["name"] == "d")
    assert row["bytes"] == 1 and row["hash"] == "8277e0910d750195b448797616e091ad"
    assert row["content_type"] and row["last_modified"].count(":") == 2


def test_listing_formats(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique()
    names = _fill(conn, name)
    with object_env.http("a_member") as http:
        path = f"/v1/{object_env.people['a_member'].account}/{name}"
        plain = http.get(path)
        assert plain.status_code == 200
        assert plain.text.splitlines() == sorted(names, key=lambda n: n.encode())
        xml = http.get(path, params={"format": "xml", "delimiter": "/"})
        root = ET.fromstring(xml.content)
        assert root.tag == "container" and root.get("name") == name
        assert [e.get("name") for e in root.findall("subdir")] == ["b/", "c/"]
        assert {e.findtext("name") for e in root.findall("object")} == {"a.txt", "d", "é-accent"}
        as_json = http.get(path, headers={"Accept": "application/json"}, params={"prefix": "b/"})
        assert [r["name"] for r in as_json.json()] == ["b/1", "b/2", "b/c/3"]
        empty = http.get(path, params={"prefix": "zzz"})
        assert empty.status_code == 204
        assert http.get(path, params={"prefix": "zzz", "format": "json"}).json() == []
        account = http.get(f"/v1/{object_env.people['a_member'].account}", params={"format": "xml"})
        assert ET.fromstring(account.content).tag == "account"
        with nothing_made(object_env.cloud):
            assert http.get(path, params={"limit": "10001"}).status_code == 412
            assert http.get(path, params={"limit": "x"}).status_code == 400


def test_missing_container_is_404(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    with nothing_made(object_env.cloud):
        for call in (
            lambda: conn.get_container("nope-" + unique()),
            lambda: conn.put_object("nope-" + unique(), "x", b"x"),
            lambda: conn.delete_container("nope-" + unique()),
        ):
            with pytest.raises(swiftclient.ClientException) as err:
                call()
            assert err.value.http_status == 404
