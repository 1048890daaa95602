"""Objects through python-swiftclient and raw HTTP: upload (ETag check, chunked), download
(ranges, conditions), metadata, copy, expiry, and a PUT that fails or is cut off."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made


@pytest.fixture
def container(object_env: Env) -> str:
    name = unique()
    object_env.swift("a_member").put_container(name)
    return name


def test_put_get_head_delete(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    body = b"hello object storage" * 100
    etag = conn.put_object(
        container,
        "dir/hello.txt",
        body,
        headers={
            "X-Object-Meta-Colour": "red",
            "Content-Disposition": 'attachment; filename="hi.txt"',
            "Content-Encoding": "identity",
        },
    )
    assert etag == hashlib.md5(body).hexdigest()
    headers, got = conn.get_object(container, "dir/hello.txt")
    assert got == body
    assert headers["content-type"] == "text/plain"
    assert headers["x-object-meta-colour"] == "red"
    assert headers["content-disposition"] == 'attachment; filename="hi.txt"'
    assert headers["content-encoding"] == "identity"
    assert headers["etag"] == etag
    head = conn.head_object(container, "dir/hello.txt")
    assert head["content-length"] == str(len(body))
    conn.delete_object(container, "dir/hello.txt")
    with pytest.raises(swiftclient.ClientException) as err:
        conn.get_object(container, "dir/hello.txt")
    assert err.value.http_status == 404


def test_overwrite_replaces_and_frees_the_old_data(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    conn.put_object(container, "x", b"first version")
    files = object_env.data_files()
    conn.put_object(container, "x", b"second")
    assert conn.get_object(container, "x")[1] == b"second"
    assert len(object_env.data_files()) == len(files)
    assert conn.head_container(container)["x-container-bytes-used"] == "6"


def test_etag_mismatch_is_422_and_stores_nothing(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    conn.put_object(container, "kept", b"old")
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.put_object(container, "kept", b"new body", etag="0" * 32)
    assert err.value.http_status == 422
    assert conn.get_object(container, "kept")[1] == b"old"


def test_chunked_upload(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")

    def chunks() -> Iterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 10000

    conn.put_object(container, "chunked", chunks())  # no length: Transfer-Encoding: chunked
    _h, got = conn.get_object(container, "chunked")
    assert got == b"".join(chunks())


def test_ranges(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    body = bytes(range(256)) * 4
    conn.put_object(container, "r", body)
    cases = {"bytes=0-9": body[:10], "bytes=1000-": body[1000:], "bytes=-5": body[-5:]}
    for spec, want in cases.items():
        headers, got = conn.get_object(container, "r", headers={"Range": spec})
        assert got == want
        assert headers["content-range"].endswith(f"/{len(body)}")
    with pytest.raises(swiftclient.ClientException) as err:
        conn.get_object(container, "r", headers={"Range": "bytes=5000-6000"})
    assert err.value.http_status == 416


def test_conditional_gets(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    etag = conn.put_object(container, "c", b"conditional")
    with object_env.http("a_member") as http:
        path = f"/v1/{object_env.people['a_member'].account}/{container}/c"
        assert http.get(path, headers={"If-Match": etag}).status_code == 200
        assert http.get(path, headers={"If-Match": '"nope"'}).status_code == 412
        assert http.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert http.get(path, headers={"If-None-Match": "other"}).status_code == 200
        later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
        earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert http.get(path, headers={"If-Modified-Since": later}).status_code == 304
        assert http.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
        assert http.get(path, headers={"If-Unmodified-Since": earlier}).status_code == 412
        resp = http.put(path, content=b"x", headers={"If-None-Match": "*"})
        assert resp.status_code == 412


def test_post_replaces_metadata(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    conn.put_object(container, "m", b"x", headers={"X-Object-Meta-A": "1"})
    conn.post_object(container, "m", {"X-Object-Meta-B": "2", "Content-Type": "text/csv"})
    head = conn.head_object(container, "m")
    assert head["x-object-meta-b"] == "2"
    assert "x-object-meta-a" not in head
    assert head["content-type"] == "text/csv"


def test_copy_and_copy_from(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    other = unique()
    conn.put_container(other)
    conn.put_object(container, "src", b"copy me", headers={"X-Object-Meta-K": "v"})
    conn.copy_object(container, "src", f"/{other}/dst", headers={"X-Object-Meta-New": "n"})
    headers, got = conn.get_object(other, "dst")
    assert got == b"copy me"
    assert headers["x-object-meta-k"] == "v" and headers["x-object-meta-new"] == "n"
    conn.put_object(other, "dst2", b"", headers={"X-Copy-From": f"/{container}/src"})
    assert conn.get_object(other, "dst2")[1] == b"copy me"
    conn.copy_object(container, "src", f"/{other}/fresh", fresh_metadata=True)
    assert "x-object-meta-k" not in conn.head_object(other, "fresh")
    conn.delete_object(container, "src")
    assert conn.get_object(other, "dst")[1] == b"copy me"  # copies are independent


def test_delete_after_is_carried_out(object_env: Env, container: str) -> None:
    conn = object_env.swift("a_member")
    conn.put_object(container, "soon", b"x", headers={"X-Delete-After": "1"})
    assert "x-delete-at" in conn.head_object(container, "soon")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _h, rows = conn.get_container(container)
        if "soon" not in [r["name"] for r in rows]:
            break
        time.sleep(0.5)
    with pytest.raises(swiftclient.ClientException) as err:
        conn.head_object(container, "soon")
    assert err.value.http_status == 404
    assert conn.head_container(container)["x-container-object-count"] == "0"
    with nothing_made(object_env.cloud), pytest.raises(swiftclient.ClientException) as err:
        conn.put_object(container, "past", b"x", headers={"X-Delete-At": "1000"})
    assert err.value.http_status == 400


def test_missing_length_is_411_and_oversize_is_413(object_env: Env, container: str) -> None:
    url = urlparse(object_env.url)
    path = f"/v1/{object_env.people['a_member'].account}/{container}/nolen"
    token = object_env.people["a_member"].token
    with nothing_made(object_env.cloud):
        host, port = url.hostname or "", url.port or 0
        assert _raw_put(host, port, path, token, b"") == 411
        assert _raw_put(host, port, path, token, b"", 6 * 1024**3) == 413


def _raw_put(host: str, port: int, path: str, token: str, body: bytes, length: int = -1) -> int:
    with socket.create_connection((host, port)) as sock:
        head = f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nX-Auth-Token: {token}\r\n"
        if length >= 0:
            head += f"Content-Length: {length}\r\n"
        sock.sendall((head + "\r\n").encode() + body)
        if body and len(body) < length:  # cut off: the client goes away mid-body
            sock.shutdown(socket.SHUT_WR)
        reply = sock.recv(4096).decode(errors="replace")
    return int(reply.split()[1]) if reply else 0


def test_cut_off_upload_keeps_the_previous_object(object_env: Env, container: str) -> None:
    """PROMISES 25: a PUT cut off mid-body stores nothing; the previous version stays."""
    conn = object_env.swift("a_member")
    conn.put_object(container, "precious", b"the old version")
    url = urlparse(object_env.url)
    path = f"/v1/{object_env.people['a_member'].account}/{container}/precious"
    token = object_env.people["a_member"].token
    with nothing_made(object_env.cloud):
        _raw_put(url.hostname or "", url.port or 0, path, token, b"partial" * 1000, 10**7)
        time.sleep(0.5)
    assert conn.get_object(container, "precious")[1] == b"the old version"
    assert not list((object_env.cloud.state_dir / "objects" / "tmp").iterdir())
