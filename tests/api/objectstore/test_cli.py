"""The `openstack container/object` commands and the `swift` CLI, unmodified, end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.api.objectstore.conftest import PASSWORD, Env, unique
from tests.cloud import VENV_BIN


def test_openstack_container_and_object_commands(object_env: Env, tmp_path: Path) -> None:
    name = unique("photos")
    object_env.cli("a_member", "container", "create", name)
    listed = json.loads(object_env.cli("a_member", "container", "list", "-f", "json"))
    assert name in [c["Name"] for c in listed]
    (tmp_path / "cat.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "a.txt").write_text("a")
    for obj in ("cat.jpg", "2026/a.txt"):  # the CLI names the object after the file path
        _create(object_env, name, obj, tmp_path)
    objects = json.loads(object_env.cli("a_member", "object", "list", name, "-f", "json"))
    assert {o["Name"] for o in objects} == {"cat.jpg", "2026/a.txt"}
    prefixed = json.loads(
        object_env.cli("a_member", "object", "list", name, "--prefix", "2026/", "-f", "json")
    )
    assert [o["Name"] for o in prefixed] == ["2026/a.txt"]
    out = tmp_path / "saved.jpg"
    object_env.cli("a_member", "object", "save", name, "cat.jpg", "--file", str(out))
    assert out.read_bytes() == b"\xff\xd8 not really a jpeg"
    shown = json.loads(object_env.cli("a_member", "object", "show", name, "cat.jpg", "-f", "json"))
    assert shown["content-type"] == "image/jpeg"
    object_env.cli("a_member", "object", "set", name, "cat.jpg", "--property", "colour=black")
    shown = json.loads(object_env.cli("a_member", "object", "show", name, "cat.jpg", "-f", "json"))
    assert "colour" in str(shown["properties"])
    stats = json.loads(object_env.cli("a_member", "container", "show", name, "-f", "json"))
    assert int(stats["object_count"]) == 2
    account = json.loads(
        object_env.cli("a_member", "object", "store", "account", "show", "-f", "json")
    )
    assert int(account["Containers"]) >= 1
    object_env.cli("a_member", "container", "delete", "--recursive", name)
    listed = json.loads(object_env.cli("a_member", "container", "list", "-f", "json"))
    assert name not in [c["Name"] for c in listed]


def _create(env: Env, container: str, obj: str, cwd: Path) -> None:
    """`openstack object create` run in `cwd` (Env.cli runs in the test's directory)."""
    p = env.people["a_member"]
    subprocess.run(
        [str(VENV_BIN / "openstack"), "object", "create", container, obj],
        env=env.cloud.cli_env(username=p.name, password=PASSWORD, project=p.project),
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_swift_cli_stat_post_and_tempurl(object_env: Env, tmp_path: Path) -> None:
    name = unique("photos")
    (tmp_path / "cat.jpg").write_bytes(b"meow")
    object_env.swift_cli("a_member", "upload", name, "cat.jpg", cwd=tmp_path)
    stat = object_env.swift_cli("a_member", "stat").stdout
    assert "Containers:" in stat and "Bytes:" in stat
    object_env.swift_cli("a_member", "post", "-m", "Temp-URL-Key:cli-key")
    path = f"/v1/{object_env.people['a_member'].account}/{name}/cat.jpg"
    url = object_env.swift_cli("a_member", "tempurl", "GET", "3600", path, "cli-key").stdout
    assert httpx.get(object_env.url + url.strip()).content == b"meow"
    listing = object_env.swift_cli("a_member", "list", name).stdout
    assert listing.split() == ["cat.jpg"]


def test_catalog_names_object_store_at_the_account(object_env: Env) -> None:
    """`openstack catalog show object-store`: /v1/AUTH_<project id> (port 8080 by default;
    the test cloud's own here)."""
    p = object_env.people["a_member"]
    shown = json.loads(object_env.cli("a_member", "catalog", "show", "object-store", "-f", "json"))
    urls = {e["interface"]: e["url"] for e in shown["endpoints"]}
    assert urls["public"] == f"{object_env.cloud.url('object')}/v1/{p.account}", urls
