"""The disk of a cold migration between fake hosts travels as a migration image: the source
uploads it (a private image of the server's project, `image_type=migration`,
`instance_uuid`, hidden: `openstack image list` does not show it), the destination's guest
is made from it, and it is deleted on confirm, on
revert and when the move fails; no migration image outlives the move."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.compute.conftest import Compute
from tests.api.compute.test_cold_migrate import cli, migrations
from tests.api.compute.test_servers import boot, wait_for


def migration_images(c: Compute, server_id: str) -> list[dict[str, Any]]:
    """The image service's migration images of the server, hidden or not (the admin sees
    every project's)."""
    images: list[dict[str, Any]] = []
    for hidden in ("true", "false"):
        resp = httpx.get(
            f"{c.cloud.url('image')}/v2/images",
            params={"instance_uuid": server_id, "image_type": "migration", "os_hidden": hidden},
            headers={"X-Auth-Token": c.conn.auth_token},
            timeout=30,
        )
        resp.raise_for_status()
        images += resp.json()["images"]
    return images


def migrate_to(c: Compute, server: Any, target: str) -> dict[str, Any]:
    """Migrate to `target`; the one migration image, which the new guest was made from."""
    cli(c.cloud, "server", "migrate", "--host", target, "--wait", server.id)
    moved = wait_for(c, server.id, status="VERIFY_RESIZE", task_state=None)
    assert moved.compute_host == target
    (image,) = migration_images(c, server.id)
    assert image["status"] == "active" and image["visibility"] == "private"
    assert image["owner"] == moved.project_id
    assert c.set_fake(target)["images"][server.id] == image["id"]
    assert image["os_hidden"] is True  # Glance's os_hidden: not in a default image list
    listed = json.loads(c.cloud.cli("image", "list", "-f", "json").stdout)
    assert image["id"] not in {i["ID"] for i in listed}
    hidden = json.loads(c.cloud.cli("image", "list", "--hidden", "-f", "json").stdout)
    assert image["id"] in {i["ID"] for i in hidden}
    return image


def test_confirm_deletes_the_migration_image(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    assert c.set_fake(source)["images"][server.id] == c.image_id  # made from its own image
    migrate_to(c, server, target)
    cli(c.cloud, "server", "migrate", "confirm", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert migration_images(c, server.id) == []
    c.conn.compute.delete_server(server)


def test_revert_deletes_the_migration_image(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    migrate_to(c, server, target)
    cli(c.cloud, "server", "migrate", "revert", server.id)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.compute_host == source and back.power_state == 1
    assert migration_images(c, server.id) == []
    assert c.set_fake(source)["images"][server.id] == c.image_id  # its own disk again
    c.conn.compute.delete_server(server)


def test_delete_while_verifying_deletes_the_migration_image(compute: Compute) -> None:
    c = compute
    server = boot(c)
    target = next(h for h in c.hosts if h != server.compute_host)
    migrate_to(c, server, target)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
    assert migration_images(c, server.id) == []


def test_a_failed_spawn_on_the_destination_deletes_the_migration_image(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    c.set_fake(target, fail={"spawn": "injected: no room"})
    try:
        cli(c.cloud, "server", "migrate", "--host", target, server.id)
        failed = wait_for(c, server.id, status="ERROR", task_state=None)
        assert failed.compute_host == source
    finally:
        assert server.id not in c.guests(target)  # (this clears the failure)
    assert [m["status"] for m in migrations(c, server.id)] == ["error"]
    assert migration_images(c, server.id) == []
    c.conn.compute.delete_server(server)


def test_a_failed_upload_leaves_the_server_running_on_the_source(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    c.set_fake(source, fail={"snapshot": "injected: disk unreadable"})
    try:
        cli(c.cloud, "server", "migrate", "--host", target, server.id)
        wait_for(c, server.id, status="ACTIVE", task_state=None)
        assert [m["status"] for m in migrations(c, server.id)] == ["error"]
    finally:
        c.set_fake(source)
    kept = c.conn.compute.get_server(server.id)
    assert kept.compute_host == source and kept.power_state == 1
    assert migration_images(c, server.id) == []
    assert server.id not in c.guests(target)
    c.conn.compute.delete_server(server)
