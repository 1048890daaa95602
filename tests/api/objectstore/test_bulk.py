"""Swift's bulk middleware: ``?bulk-delete`` (what `swift delete` uses for many objects) and
``?extract-archive`` (a tar becomes objects), summaries in text, JSON or XML."""

from __future__ import annotations

import io
import json
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made


def test_swift_cli_deletes_many_objects_in_bulk(object_env: Env, tmp_path: Path) -> None:
    box = unique("bulk")
    for i in range(25):  # > 2 x the CLI's 10 delete threads: it asks /info and bulk-deletes
        (tmp_path / f"f{i:02d}").write_bytes(b"x" * i)
    object_env.swift_cli("a_member", "upload", box, ".", cwd=tmp_path)
    conn = object_env.swift("a_member")
    assert len(conn.get_container(box)[1]) == 25
    before = object_env.data_files()
    object_env.swift_cli("a_member", "delete", box)
    with pytest.raises(swiftclient.ClientException) as exc:
        conn.head_container(box)
    assert exc.value.http_status == 404
    assert len(before - object_env.data_files()) == 25  # the data went too


def test_bulk_delete_summaries(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    box, full = unique("bulk"), unique("bulk")
    conn.put_container(box)
    conn.put_container(full)
    for name in ("a", "b c", "ü"):
        conn.put_object(box, name, b"1")
    conn.put_object(full, "keep", b"1")
    path = f"/v1/{object_env.people['a_member'].account}"
    names = [f"{box}/a", f"/{box}/b c", f"{box}/ü", f"{box}/missing", full]
    body = "\n".join(quote(n) for n in names)
    with object_env.http("a_member") as http:
        resp = http.post(
            f"{path}?bulk-delete", content=body, headers={"Accept": "application/json"}
        )
        assert resp.status_code == 200
        summary = resp.json()
        assert summary["Number Deleted"] == 3 and summary["Number Not Found"] == 1
        assert summary["Response Status"] == "400 Bad Request"
        assert summary["Errors"] == [[quote(full), "409 Conflict"]]
        resp = http.request(
            "DELETE", f"{path}?bulk-delete", content=f"{full}/keep\n{full}\n{box}\n"
        )
        assert resp.headers["content-type"].startswith("text/plain")
        assert "Number Deleted: 3\n" in resp.text and "Response Status: 200 OK\n" in resp.text
        resp = http.post(
            f"{path}?bulk-delete", content=f"{box}\n", headers={"Accept": "application/xml"}
        )
        root = ET.fromstring(resp.content)
        assert root.tag == "delete" and root.findtext("number_not_found") == "1"
    conn.put_container(box)
    with object_env.http("a_reader") as http, nothing_made(object_env.cloud):
        assert http.post(f"{path}?bulk-delete", content=box).status_code == 403
    conn.head_container(box)


def _tar(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_extract_archive(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    box, made = unique("tar"), unique("tar")
    conn.put_container(box)
    account = f"/v1/{object_env.people['a_member'].account}"
    archive = _tar({"docs/a.txt": b"alpha", "./b.json": b"{}"})
    with object_env.http("a_member") as http:
        resp = http.put(
            f"{account}/{box}/pre?extract-archive=tar.gz",
            content=archive,
            headers={"Accept": "application/json"},
        )
        summary = json.loads(resp.content)
        assert summary["Number Files Created"] == 2, summary
        assert summary["Response Status"] == "201 Created"
        # at the account: the first path part is the container, made when missing
        plain = _tar({f"{made}/x": b"in a new container"}, "w")
        resp = http.put(f"{account}?extract-archive=tar", content=plain)
        assert "Number Files Created: 1\n" in resp.text
        with nothing_made(object_env.cloud):
            assert http.put(f"{account}/{box}?extract-archive=zip", content=b"").status_code == 400
            resp = http.put(f"{account}/{box}?extract-archive=tar", content=b"not a tar" * 100)
            assert "Response Status: 400 Bad Request" in resp.text
            assert "Invalid Tar File" in resp.text
    assert conn.get_object(box, "pre/docs/a.txt")[1] == b"alpha"
    headers, body = conn.get_object(box, "pre/b.json")
    assert body == b"{}" and headers["content-type"] == "application/json"
    assert conn.get_object(made, "x")[1] == b"in a new container"


def test_capabilities_list_the_middlewares_served(object_env: Env) -> None:
    caps = object_env.swift("a_member").get_capabilities()
    assert caps["bulk_delete"]["max_deletes_per_request"] == 10000
    assert "bulk_upload" in caps
    assert set(caps["formpost"]["allowed_digests"]) == {"sha1", "sha256", "sha512"}
    assert caps["versioned_writes"]["allowed_flags"] == [
        "x-versions-location",
        "x-history-location",
    ]
    assert "symlink" not in caps and "object_versioning" not in caps  # not served here
    # exactly the middlewares served: each has a test in tests/api/objectstore (tempauth,
    # staticweb, domain_remap, symlink, object_versioning, encryption... are not served)
    assert set(caps) == {
        "swift", "keystoneauth", "container_acls", "tempurl", "slo", "dlo", "formpost",
        "bulk_delete", "bulk_upload", "versioned_writes", "account_quotas", "container_quotas",
    }  # fmt: skip
    assert caps["swift"]["policies"] == [{"name": "Policy-0", "default": True}]
