"""The attachments API as Nova drives it (reserve, connector, complete, delete), the admin's
force-detach, and transfers of a volume to another project with the CLI."""

from __future__ import annotations

import json
import uuid

from tests.api.volume.conftest import Env

CONNECTOR = {"host": "compute-1", "initiator": "iqn.x", "mountpoint": "/dev/vdb"}


def test_attach_like_nova(volume_env: Env) -> None:
    server = str(uuid.uuid4())
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="att")
    volume_env.wait(vol.id, "available", who="a_member")
    with volume_env.http("a_member") as http:
        att = http.post(
            "/attachments", json={"attachment": {"volume_uuid": vol.id, "instance_uuid": server}}
        ).json()["attachment"]
        assert (att["status"], att["instance"], att["connection_info"]) == (
            "reserved",
            server,
            None,
        )
        assert volume_env.wait(vol.id, "reserved")["attachments"] == []
        att = http.put(
            f"/attachments/{att['id']}", json={"attachment": {"connector": CONNECTOR}}
        ).json()["attachment"]
        info = att["connection_info"]
        assert att["status"] == "attaching" and info["driver_volume_type"] == "file"
        assert info["data"]["device_path"].endswith(f"volume-{vol.id}")
        assert info["data"]["access_mode"] == "rw"
        assert volume_env.wait(vol.id, "attaching")["attachments"] == []
        resp = http.post(f"/attachments/{att['id']}/action", json={"os-complete": None})
        assert resp.status_code == 204
        shown = volume_env.wait(vol.id, "in-use", who="a_member")
        assert [
            (a["server_id"], a["attachment_id"], a["device"]) for a in shown["attachments"]
        ] == [(server, att["id"], "/dev/vdb")]
        listed = http.get("/attachments", params={"volume_id": vol.id}).json()["attachments"]
        assert [a["status"] for a in listed] == ["attached"]
        resp = http.delete(f"/attachments/{att['id']}")
        assert resp.status_code == 200 and resp.json() == {"attachments": []}
        assert volume_env.wait(vol.id, "available")["attachments"] == []
    # a compute host that died: the admin force-detaches
    with volume_env.http("a_member") as http:
        att = http.post(
            "/attachments",
            json={
                "attachment": {
                    "volume_uuid": vol.id,
                    "instance_uuid": server,
                    "connector": CONNECTOR,
                }
            },
        ).json()["attachment"]
        http.post(f"/attachments/{att['id']}/action", json={"os-complete": None})
    volume_env.wait(vol.id, "in-use")
    with volume_env.http("admin") as admin:
        resp = admin.post(
            f"/volumes/{vol.id}/action", json={"os-force_detach": {"attachment_id": att["id"]}}
        )
        assert resp.status_code == 202
    volume_env.wait(vol.id, "available")
    conn.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")


def test_transfer_moves_a_volume_to_another_project(volume_env: Env) -> None:
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="gift")
    volume_env.wait(vol.id, "available", who="a_member")
    volume_env.write(vol.id, 0x66)
    offer = json.loads(
        volume_env.cli(
            "a_member",
            "volume",
            "transfer",
            "request",
            "create",
            "--name",
            "t",
            vol.id,
            "-f",
            "json",
        )
    )
    assert offer["auth_key"] and offer["volume_id"] == vol.id
    assert volume_env.wait(vol.id, "awaiting-transfer", who="a_member")
    wrong = volume_env.cli(
        "b_member",
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        "nope",
        offer["id"],
        check=False,
    )
    assert "Invalid auth key" in wrong
    volume_env.cli(
        "b_member",
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        offer["auth_key"],
        offer["id"],
    )
    shown = volume_env.wait(vol.id, "available", who="b_member")
    assert shown["os-vol-tenant-attr:tenant_id"] == volume_env.people["b_member"].project_id
    with volume_env.http("a_member") as http:
        assert http.get(f"/volumes/{vol.id}").status_code == 404
    assert volume_env.read(vol.id, 4096) == b"\x66" * 4096
    volume_env.cli("b_member", "volume", "delete", vol.id)
    volume_env.wait(vol.id, "deleted", who="b_member")


def test_transfer_offer_can_be_withdrawn(volume_env: Env) -> None:
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="kept")
    volume_env.wait(vol.id, "available", who="a_member")
    offer = json.loads(
        volume_env.cli("a_member", "volume", "transfer", "request", "create", vol.id, "-f", "json")
    )
    listed = volume_env.cli("a_member", "volume", "transfer", "request", "list")
    assert offer["id"] in listed
    volume_env.cli("a_member", "volume", "transfer", "request", "delete", offer["id"])
    volume_env.wait(vol.id, "available", who="a_member")
    conn.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")
