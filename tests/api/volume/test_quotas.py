"""Quota sets: Cinder's defaults (PROMISES 14), usage, updates by the admin only, and claims
that hold under parallel creates (PROMISES 8)."""

from __future__ import annotations

import json
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
