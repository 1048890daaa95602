"""Who may do what: operators and readers of a project, other projects (403 without an ACL),
container ACLs (public read, listings, project:user grants, write), temp URLs (PROMISES 27),
and account and container quotas (413)."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
import swiftclient
from swiftclient import utils

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made


def generate_temp_url(path: str, expires: int, key: str, method: str, **kw: object) -> str:
    """swiftclient's signer (`swift tempurl`), with an absolute expiry time."""
    url: str = utils.generate_temp_url(path, expires, key, method, absolute=True, **kw)
    return url


@pytest.fixture
def shared(object_env: Env) -> str:
    """A container of project a holding one object."""
    name = unique()
    conn = object_env.swift("a_member")
    conn.put_container(name)
    conn.put_object(name, "doc", b"project a's data")
    return name


def _path(env: Env, container: str, obj: str = "") -> str:
    return f"/v1/{env.people['a_member'].account}/{container}" + (f"/{obj}" if obj else "")


def test_other_project_and_anonymous_are_refused(object_env: Env, shared: str) -> None:
    with nothing_made(object_env.cloud):
        with object_env.http("b_member") as http:
            assert http.get(_path(object_env, shared, "doc")).status_code == 403
            assert http.get(_path(object_env, shared)).status_code == 403
            assert http.put(_path(object_env, shared, "x"), content=b"x").status_code == 403
            assert http.delete(_path(object_env, shared, "doc")).status_code == 403
            assert http.get(f"/v1/{object_env.people['a_member'].account}").status_code == 403
        with object_env.http(None) as anon:
            assert anon.get(_path(object_env, shared, "doc")).status_code == 401
        with object_env.http(None) as bad:
            headers = {"X-Auth-Token": "not-a-token"}
            assert bad.get(_path(object_env, shared), headers=headers).status_code == 401


def test_reader_reads_but_does_not_write(object_env: Env, shared: str) -> None:
    with object_env.http("a_reader") as http:
        assert http.get(_path(object_env, shared, "doc")).content == b"project a's data"
        assert http.get(_path(object_env, shared)).status_code == 200
        with nothing_made(object_env.cloud):
            assert http.put(_path(object_env, shared, "new"), content=b"x").status_code == 403
            assert (
                http.post(
                    _path(object_env, shared), headers={"X-Container-Read": ".r:*"}
                ).status_code
                == 403
            )


def test_public_read_acl(object_env: Env, shared: str) -> None:
    object_env.swift_cli("a_member", "post", "-r", ".r:*", shared)
    with object_env.http(None) as anon:
        assert anon.get(_path(object_env, shared, "doc")).content == b"project a's data"
        assert anon.get(_path(object_env, shared)).status_code == 401  # no .rlistings
        with nothing_made(object_env.cloud):
            assert anon.put(_path(object_env, shared, "x"), content=b"x").status_code == 401
    object_env.swift("a_member").post_container(shared, {"X-Container-Read": ".r:*,.rlistings"})
    with object_env.http(None) as anon:
        assert anon.get(_path(object_env, shared)).text == "doc\n"
    with object_env.http("b_member") as http:  # a token of another project reads it too
        assert http.get(_path(object_env, shared, "doc")).status_code == 200


def test_user_acls_across_projects(object_env: Env, shared: str) -> None:
    b = object_env.people["b_member"]
    conn = object_env.swift("a_member")
    conn.post_container(shared, {"X-Container-Read": f"{b.project_id}:*"})
    with object_env.http("b_member") as http:
        assert http.get(_path(object_env, shared, "doc")).status_code == 200
        assert http.get(_path(object_env, shared)).status_code == 200
        with nothing_made(object_env.cloud):
            assert http.put(_path(object_env, shared, "b-wrote"), content=b"b").status_code == 403
    conn.post_container(shared, {"X-Container-Write": f"{b.project}:{b.name}"})
    with object_env.http("b_member") as http:
        assert http.put(_path(object_env, shared, "b-wrote"), content=b"b").status_code == 201
        assert http.delete(_path(object_env, shared)).status_code == 403  # not the container
    with object_env.http("b_reader") as http:  # another user of project b: not named
        assert http.get(_path(object_env, shared, "doc")).status_code == 200  # project:* read
        assert http.put(_path(object_env, shared, "r"), content=b"r").status_code == 403
    assert conn.get_object(shared, "b-wrote")[1] == b"b"


def test_temp_urls(object_env: Env, shared: str) -> None:
    """PROMISES 27: a temp URL grants exactly its method, path (or prefix) and time."""
    conn = object_env.swift("a_member")
    conn.post_account({"X-Account-Meta-Temp-URL-Key": "secret-key"})
    path = _path(object_env, shared, "doc")
    expires = int(time.time()) + 300
    with httpx.Client(base_url=object_env.url, timeout=30) as anon:
        for digest in ("sha256", "sha1"):
            url = generate_temp_url(path, expires, "secret-key", "GET", digest=digest)
            resp = anon.get(url)
            assert resp.status_code == 200 and resp.content == b"project a's data"
            assert "attachment" in resp.headers["content-disposition"]
        get_url = generate_temp_url(path, expires, "secret-key", "GET")
        assert anon.head(get_url).status_code == 200
        with nothing_made(object_env.cloud):
            assert anon.put(get_url, content=b"x").status_code == 401  # another method
            assert anon.delete(get_url).status_code == 401
            other = generate_temp_url(
                _path(object_env, shared, "other"), expires, "secret-key", "GET"
            )
            assert anon.get(other.replace("/other?", "/doc?")).status_code == 401  # another object
            old = generate_temp_url(path, int(time.time()) - 10, "secret-key", "GET")
            assert anon.get(old).status_code == 401  # expired
            wrong = generate_temp_url(path, expires, "wrong-key", "GET")
            assert anon.get(wrong).status_code == 401
            assert anon.get(path + "?temp_url_sig=abc&temp_url_expires=x").status_code == 401
        put_url = generate_temp_url(_path(object_env, shared, "up"), expires, "secret-key", "PUT")
        assert anon.put(put_url, content=b"uploaded").status_code == 201
        prefix_url = generate_temp_url(
            _path(object_env, shared, "pre/"), expires, "secret-key", "GET", prefix=True
        )
        conn.put_object(shared, "pre/one", b"1")
        signed = prefix_url.split("?", 1)[1]
        assert anon.get(f"{_path(object_env, shared, 'pre/one')}?{signed}").status_code == 200
        assert anon.get(f"{_path(object_env, shared, 'doc')}?{signed}").status_code == 401
    assert conn.get_object(shared, "up")[1] == b"uploaded"


def test_container_temp_url_key(object_env: Env, shared: str) -> None:
    conn = object_env.swift("a_member")
    conn.post_container(shared, {"X-Container-Meta-Temp-URL-Key": "container-key"})
    url = generate_temp_url(
        _path(object_env, shared, "doc"), int(time.time()) + 60, "container-key", "GET"
    )
    assert httpx.get(object_env.url + url).status_code == 200


def test_container_quotas(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    name = unique()
    conn.put_container(name, headers={"X-Container-Meta-Quota-Bytes": "10"})
    conn.put_object(name, "fits", b"12345678")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.put_object(name, "too-much", b"12345")
    assert err.value.http_status == 413
    conn.post_container(
        name, {"X-Container-Meta-Quota-Bytes": "", "X-Container-Meta-Quota-Count": "1"}
    )
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.put_object(name, "second", b"1")
    assert err.value.http_status == 413
    conn.put_object(name, "fits", b"replacing is fine")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.put_container(name, headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert err.value.http_status == 400


def test_account_quota_set_by_admin_only(object_env: Env) -> None:
    b = object_env.people["b_member"]
    member = object_env.swift("b_member")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        member.post_account({"X-Account-Meta-Quota-Bytes": "1"})
    assert err.value.http_status == 403
    used = int(member.head_account()["x-account-bytes-used"])
    with object_env.http("admin") as http:
        resp = http.post(f"/v1/{b.account}", headers={"X-Account-Meta-Quota-Bytes": str(used + 4)})
        assert resp.status_code == 204
    name = unique()
    member.put_container(name)
    member.put_object(name, "small", b"1234")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        member.put_object(name, "over", b"5")
    assert err.value.http_status == 413
    with object_env.http("admin") as http:
        http.post(f"/v1/{b.account}", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
    member.put_object(name, "over", b"5")


def test_parallel_puts_against_a_count_quota(object_env: Env) -> None:
    """Concurrent PUTs against a count quota: exactly the quota's worth succeed, the others
    get 413 and leave no data, and the counters match the rows."""
    conn = object_env.swift("a_member")
    name = unique()
    conn.put_container(name, headers={"X-Container-Meta-Quota-Count": "5"})
    path = f"/v1/{object_env.people['a_member'].account}/{name}"
    before = object_env.data_files()

    def put(i: int) -> int:
        with object_env.http("a_member") as http:
            return http.put(f"{path}/o{i}", content=b"x" * 100).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(put, range(24)))
    assert sorted(codes) == [201] * 5 + [413] * 19
    headers, listed = conn.get_container(name)
    assert len(listed) == 5 and headers["x-container-object-count"] == "5"
    assert headers["x-container-bytes-used"] == "500"
    assert len(object_env.data_files() - before) == 5
