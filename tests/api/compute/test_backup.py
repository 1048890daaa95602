"""createBackup with rotation through the `openstack` CLI and the raw API (issue 15): backup
images carry image_type=backup, backup_type and instance_uuid; only the newest `rotation` of a
type are kept; 2.45 answers the image id in the body, earlier versions in Location."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for
from tests.api.compute.test_shelve_soft_delete import action, actions


def backups(c: Compute, server_id: str, backup_type: str) -> list[Any]:
    return [
        i
        for i in c.conn.image.images(instance_uuid=server_id)
        if i.properties.get("backup_type") == backup_type
    ]


def settled(c: Compute, server_id: str) -> None:
    wait_for(c, server_id, task_state=None)


def test_backup_create_rotates_with_the_cli(compute: Compute) -> None:
    c, cli = compute, compute.cloud.cli
    server = boot(c)
    made = []
    for _ in range(3):
        name = f"daily-{uuid.uuid4().hex[:6]}"
        cli(
            "server",
            "backup",
            "create",
            "--type",
            "daily",
            "--rotate",
            "2",
            "--name",
            name,
            "--wait",
            server.id,
        )
        settled(c, server.id)
        made.append(c.conn.image.find_image(name))
    kept = backups(c, server.id, "daily")
    assert len(kept) == 2, [i.name for i in kept]
    assert made[2].id in {i.id for i in kept}
    for image in kept:
        assert image.status == "active" and image.instance_uuid == server.id
        assert image.properties["image_type"] == "backup"
        assert image.properties["backup_type"] == "daily"
    assert sorted(i.created_at for i in kept) == sorted(i.created_at for i in made)[1:]

    resp = action(
        c,
        server.id,
        {"createBackup": {"name": "w", "backup_type": "weekly", "rotation": "1"}},
        "2.45",
    )
    assert resp.status_code == 202 and set(resp.json()) == {"image_id"}
    settled(c, server.id)
    assert [i.id for i in backups(c, server.id, "weekly")] == [resp.json()["image_id"]]
    assert len(backups(c, server.id, "daily")) == 2  # another type is not rotated
    assert "createBackup" in actions(c, server.id)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_backup_answers_per_microversion_and_refuses_bad_input(compute: Compute) -> None:
    c = compute
    server = boot(c)
    body = {"createBackup": {"name": "old", "backup_type": "daily", "rotation": 1}}
    resp = action(c, server.id, body, "2.44")
    assert resp.status_code == 202 and not resp.content
    image_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert resp.headers["Location"].endswith(f"/v2.1/images/{image_id}")
    settled(c, server.id)
    assert c.conn.image.get_image(image_id).status == "active"
    zero = {"createBackup": {"name": "none", "backup_type": "daily", "rotation": 0}}
    resp = action(c, server.id, zero, "2.44")
    assert resp.status_code == 202 and "Location" not in resp.headers
    settled(c, server.id)
    assert backups(c, server.id, "daily") == []  # rotation 0 keeps none

    bad: list[dict[str, Any]] = [
        {"name": "x", "backup_type": "daily", "rotation": -1},
        {"name": "x", "backup_type": "daily", "rotation": "two"},
        {"name": "x", "rotation": 1},
        {"backup_type": "daily", "rotation": 1},
        {"name": "x", "backup_type": "daily", "rotation": 1, "colour": "blue"},
    ]
    for entity in bad:
        resp = action(c, server.id, {"createBackup": entity})
        assert resp.status_code == 400, (entity, resp.text)
    assert action(c, server.id, {"rescue": None}).status_code == 200
    wait_for(c, server.id, status="RESCUE", task_state=None)
    resp = action(c, server.id, body)
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'createBackup' instance {server.id} while it is in vm_state rescued"
    )
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
