"""Form uploads (Swift's formpost): a browser POSTs multipart/form-data with an HMAC signature
made with the account's or the container's temp URL key; no token (PROMISES 27)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made

KEY = "form-key"


def sign(path: str, fields: dict[str, str], key: str = KEY, digest: str = "sha1") -> str:
    """The signature as Swift's docs make it: HMAC of path, redirect, sizes and expiry."""
    text = "\n".join(
        [
            path,
            fields.get("redirect", ""),
            fields["max_file_size"],
            fields["max_file_count"],
            fields["expires"],
        ]
    )
    mac = hmac.new(key.encode(), text.encode(), getattr(hashlib, digest))
    if digest == "sha512":  # the prefixed base64 form
        return "sha512:" + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    return mac.hexdigest()


def form(path: str, digest: str = "sha1", key: str = KEY, **over: Any) -> dict[str, str]:
    fields = {
        "redirect": "",
        "max_file_size": "1024",
        "max_file_count": "2",
        "expires": str(int(time.time()) + 300),
    }
    fields.update({k: str(v) for k, v in over.items() if k != "signature"})
    fields["signature"] = over.get("signature") or sign(path, fields, key, digest)
    return fields


@pytest.fixture
def box(object_env: Env) -> str:
    name = unique("form")
    object_env.swift("a_member").put_container(name, headers={"X-Container-Meta-Temp-URL-Key": KEY})
    return name


def _post(env: Env, path: str, fields: dict[str, str], files: list[Any]) -> httpx.Response:
    with httpx.Client(base_url=env.url, timeout=30) as anon:  # a browser: no token
        return anon.post(path, data=fields, files=files)


def test_form_upload_with_redirect(object_env: Env, box: str) -> None:
    path = f"/v1/{object_env.people['a_member'].account}/{box}/up ü/"  # signed decoded
    fields = form(path, redirect="https://example.invalid/done?x=1")
    resp = _post(object_env, path, fields, [("file1", ("a.txt", b"hello form", "text/plain"))])
    assert resp.status_code == 303
    location = urlsplit(resp.headers["location"])
    assert location.netloc == "example.invalid"
    assert parse_qs(location.query) == {"x": ["1"], "status": ["201"]}
    headers, body = object_env.swift("a_member").get_object(box, "up ü/a.txt")
    assert body == b"hello form" and headers["content-type"] == "text/plain"


@pytest.mark.parametrize("digest", ["sha256", "sha512"])
def test_form_upload_without_redirect(object_env: Env, box: str, digest: str) -> None:
    path = f"/v1/{object_env.people['a_member'].account}/{box}"
    fields = form(path, digest)
    files = [("f1", ("one", b"1" * 10, "application/x-one")), ("f2", ("two", b"22", "text/x"))]
    resp = _post(object_env, path, fields, files)
    assert resp.status_code == 201 and resp.text.startswith("201 Created")
    conn = object_env.swift("a_member")
    assert conn.get_object(box, "one")[1] == b"1" * 10
    assert conn.get_object(box, "two")[1] == b"22"


def test_account_key_signs_forms(object_env: Env) -> None:
    conn = object_env.swift("b_member")
    name = unique("form")
    conn.put_container(name)
    conn.post_account({"X-Account-Meta-Temp-URL-Key": "b-account-key"})
    path = f"/v1/{object_env.people['b_member'].account}/{name}"
    fields = form(path, key="b-account-key")
    resp = _post(object_env, path, fields, [("f", ("k", b"by account key", "text/plain"))])
    assert resp.status_code == 201
    assert conn.get_object(name, "k")[1] == b"by account key"


def test_bad_forms_store_nothing(object_env: Env, box: str) -> None:
    path = f"/v1/{object_env.people['a_member'].account}/{box}"
    one = [("f", ("x", b"data", "text/plain"))]
    with nothing_made(object_env.cloud):
        wrong_key = _post(object_env, path, form(path, key="other"), one)
        assert wrong_key.status_code == 401 and "Invalid Signature" in wrong_key.text
        expired = form(path, expires=int(time.time()) - 5)
        resp = _post(object_env, path, expired, one)
        assert resp.status_code == 401 and "Form Expired" in resp.text
        # signed for another container
        other = f"/v1/{object_env.people['a_member'].account}/elsewhere"
        assert _post(object_env, path, form(other), one).status_code == 401
        big = [("f", ("x", b"y" * 2048, "text/plain"))]
        resp = _post(object_env, path, form(path), big)
        assert resp.status_code == 400 and "max_file_size exceeded" in resp.text
        resp = _post(object_env, path, form(path, max_file_size="ten"), one)
        assert resp.status_code == 400
        resp = _post(object_env, path, form(path), [("note", (None, b"a field, no file"))])
        assert resp.status_code == 400 and "No Files To Process" in resp.text
        with httpx.Client(base_url=object_env.url, timeout=30) as anon:
            bad = anon.post(
                path,
                content=b"not multipart at all",
                headers={"Content-Type": "multipart/form-data; boundary=xyz"},
            )
            assert bad.status_code == 400
    assert object_env.swift("a_member").get_container(box)[1] == []


def test_max_file_count(object_env: Env, box: str) -> None:
    path = f"/v1/{object_env.people['a_member'].account}/{box}"
    redirect = "https://example.invalid/r"
    fields = form(path, max_file_count="1", redirect=redirect)
    files = [("a", ("first", b"1", "text/plain")), ("b", ("second", b"2", "text/plain"))]
    resp = _post(object_env, path, fields, files)
    assert resp.status_code == 303
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    assert query == {"status": ["400"], "message": ["max file count exceeded"]}
    names = [o["name"] for o in object_env.swift("a_member").get_container(box)[1]]
    assert names == ["first"]  # as Swift: the files before the limit are kept
