"""Quota sets: Cinder's defaults (PROMISES 14), usage, updates by the admin only, and claims
that hold under parallel creates (PROMISES 8)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.api.volume.conftest import Env


def test_defaults_are_cinders_and_usage_counts(volume_env: Env) -> None:
    a = volume_env.people["a_member"].project_id
    with volume_env.http("a_member") as http:
        defaults = http.get(f"/os-quota-sets/{a}/defaults").json()["quota_set"]
        assert (defaults["volumes"], defaults["snapshots"], defaults["gigabytes"]) == (10, 10, 1000)
        assert defaults["per_volume_gigabytes"] == -1
        vol = http.post("/volumes", json={"volume": {"size": 2}}).json()["volume"]
        volume_env.wait(vol["id"], "available", who="a_member")
        usage = http.get(f"/os-quota-sets/{a}", params={"usage": "True"}).json()["quota_set"]
        assert usage["volumes"]["limit"] == 10 and usage["volumes"]["in_use"] >= 1
        assert usage["gigabytes"]["in_use"] >= 2
        assert (
            http.put(f"/os-quota-sets/{a}", json={"quota_set": {"volumes": 99}}).status_code == 403
        )
        other = volume_env.people["b_member"].project_id
        assert http.get(f"/os-quota-sets/{other}").status_code == 403
        http.delete(f"/volumes/{vol['id']}")
    volume_env.wait(vol["id"], "deleted", who="a_member")
    shown = json.loads(
        volume_env.cli(
            "admin",
            "quota",
            "show",
            "--volume",
            volume_env.people["a_member"].project,
            "-f",
            "json",
        )
    )
    assert {r["Resource"]: r["Limit"] for r in shown}["volumes"] == 10


def test_parallel_creates_never_exceed_the_quota(volume_env: Env) -> None:
    b = volume_env.people["b_member"].project_id
    with volume_env.http("admin") as admin:
        admin.put(f"/os-quota-sets/{b}", json={"quota_set": {"volumes": 3}})
    try:

        def create(_: int) -> int:
            with volume_env.http("b_member") as http:
                return http.post("/volumes", json={"volume": {"size": 1}}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(create, range(8)))
        assert sorted(codes) == [202] * 3 + [413] * 5
        with volume_env.http("b_member") as http:
            made = http.get("/volumes").json()["volumes"]
            assert len(made) == 3
            for v in made:
                volume_env.wait(v["id"], "available", who="b_member")
                http.delete(f"/volumes/{v['id']}")
            for v in made:
                volume_env.wait(v["id"], "deleted", who="b_member")
    finally:
        with volume_env.http("admin") as admin:
            admin.delete(f"/os-quota-sets/{b}")


def test_quotas_per_volume_type_and_per_volume_size(volume_env: Env) -> None:
    """`openstack quota set --volume-type T` sets volumes_T/gigabytes_T/snapshots_T (shown in
    Cinder's quota-set format, unlimited by default); claims check them with the totals: over
    a type's limit, or past per_volume_gigabytes, is 413 with Cinder's overLimit body, and the
    other types are not affected."""
    person = volume_env.people["a_member"]
    a, gold = person.project_id, f"gold-{uuid.uuid4().hex[:6]}"
    volume_env.cli("admin", "volume", "type", "create", gold)
    with volume_env.http("admin") as admin:
        defaults = admin.get(f"/os-quota-sets/{a}/defaults").json()["quota_set"]
        assert defaults[f"volumes_{gold}"] == defaults[f"gigabytes_{gold}"] == -1
        assert defaults[f"snapshots_{gold}"] == -1
    volume_env.cli(
        "admin", "quota", "set", "--volume-type", gold, "--volumes", "1", "--gigabytes", "3",
        "--snapshots", "0", person.project,
    )  # fmt: skip
    volume_env.cli("admin", "quota", "set", "--per-volume-gigabytes", "2", person.project)
    made: list[str] = []
    try:
        with volume_env.http("a_member") as http:
            usage = http.get(f"/os-quota-sets/{a}", params={"usage": "True"}).json()["quota_set"]
            assert usage[f"volumes_{gold}"] == {
                "limit": 1, "in_use": 0, "reserved": 0, "allocated": 0,
            }  # fmt: skip
            first = http.post("/volumes", json={"volume": {"size": 2, "volume_type": gold}})
            assert first.status_code == 202, first.text
            made.append(first.json()["volume"]["id"])
            volume_env.wait(made[0], "available", who="a_member")
            second = http.post("/volumes", json={"volume": {"size": 1, "volume_type": gold}})
            assert second.status_code == 413, second.text
            over = second.json()["overLimit"]
            assert over["code"] == 413
            assert f"exceeded for quota 'volumes_{gold}'" in over["message"]
            big = http.post("/volumes", json={"volume": {"size": 3}})
            assert big.status_code == 413, big.text
            assert "per_volume_gigabytes" in big.json()["overLimit"]["message"]
            snap = http.post("/snapshots", json={"snapshot": {"volume_id": made[0]}})
            assert snap.status_code == 413, snap.text
            assert f"'snapshots_{gold}'" in snap.json()["overLimit"]["message"]
            plain = http.post("/volumes", json={"volume": {"size": 1}})
            assert plain.status_code == 202, plain.text
            made.append(plain.json()["volume"]["id"])
            usage = http.get(f"/os-quota-sets/{a}", params={"usage": "True"}).json()["quota_set"]
            assert usage[f"volumes_{gold}"]["in_use"] == 1
            assert usage[f"gigabytes_{gold}"]["in_use"] == 2
        shown = json.loads(
            volume_env.cli("admin", "quota", "show", "--volume", person.project, "-f", "json")
        )
        assert {r["Resource"]: r["Limit"] for r in shown}[f"gigabytes_{gold}"] == 3
    finally:
        with volume_env.http("a_member") as http:
            for volume_id in made:
                volume_env.wait(volume_id, "available", who="a_member")
                http.delete(f"/volumes/{volume_id}")
            for volume_id in made:
                volume_env.wait(volume_id, "deleted", who="a_member")
        with volume_env.http("admin") as admin:
            admin.delete(f"/os-quota-sets/{a}")
        volume_env.cli("admin", "volume", "type", "delete", gold)
