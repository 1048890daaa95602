"""CORS from container metadata, as Swift's proxy answers it: preflight OPTIONS (no token) and
the Access-Control-* headers of actual requests from an allowed origin."""

from __future__ import annotations

from tests.api.objectstore.conftest import Env, unique

ALLOWED = "https://app.example"


def test_preflight_and_actual_requests(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique("cors")
    conn.put_container(name)
    object_env.cli(
        "a_member",
        "container", "set", name,
        "--property", f"Access-Control-Allow-Origin={ALLOWED} https://other.example",
        "--property", "Access-Control-Max-Age=600",
        "--property", "Access-Control-Expose-Headers=X-Custom-A X-Custom-B",
    )  # fmt: skip
    conn.put_object(name, "o", b"data", headers={"X-Object-Meta-Color": "blue"})
    path = f"/v1/{object_env.people['a_member'].account}/{name}"
    with object_env.http(None) as anon:
        pre = anon.options(
            f"{path}/o",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "x-auth-token, content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == ALLOWED
        assert pre.headers["access-control-max-age"] == "600"
        assert "PUT" in pre.headers["access-control-allow-methods"].split(", ")
        assert pre.headers["access-control-allow-headers"] == "x-auth-token, content-type"
        refused = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        assert anon.options(f"{path}/o", headers=refused).status_code == 401
        bad_method = {"Origin": ALLOWED, "Access-Control-Request-Method": "TRACE"}
        assert anon.options(f"{path}/o", headers=bad_method).status_code == 401
        plain = anon.options(path)
        assert plain.status_code == 200 and "GET" in plain.headers["allow"]
    with object_env.http("a_member") as http:
        got = http.get(f"{path}/o", headers={"Origin": ALLOWED})
        assert got.status_code == 200
        assert got.headers["access-control-allow-origin"] == ALLOWED
        exposed = got.headers["access-control-expose-headers"].split(", ")
        assert {"etag", "x-object-meta-color", "x-custom-a", "x-custom-b"} <= set(exposed)
        missing = http.get(f"{path}/absent", headers={"Origin": ALLOWED})
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == ALLOWED
        other = http.get(f"{path}/o", headers={"Origin": "https://evil.example"})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_wildcard_origin_and_containers_without_cors(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    open_box, closed = unique("cors"), unique("cors")
    conn.put_container(open_box, headers={"X-Container-Meta-Access-Control-Allow-Origin": "*"})
    conn.put_container(closed)
    account = object_env.people["a_member"].account
    asked = {"Origin": "https://any.example", "Access-Control-Request-Method": "GET"}
    with object_env.http(None) as anon:
        pre = anon.options(f"/v1/{account}/{open_box}/x", headers=asked)
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
        assert anon.options(f"/v1/{account}/{closed}/x", headers=asked).status_code == 401
        assert anon.options(f"/v1/{account}/missing-{open_box}", headers=asked).status_code == 401
    with object_env.http("a_member") as http:
        head = http.head(f"/v1/{account}/{open_box}", headers={"Origin": "https://any.example"})
        assert head.headers["access-control-allow-origin"] == "*"
        head = http.head(f"/v1/{account}/{closed}", headers={"Origin": "https://any.example"})
        assert "access-control-allow-origin" not in head.headers
