"""The volume service on PostgreSQL: the same life cycle (create, snapshot, clone, extend,
delete) and quota claims that hold under parallel creates (row lock on the project)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.api.volume.conftest import Env, make_env
from tests.cloud import running_cloud


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("volume-pg")
    with running_cloud(tmp, backend="postgresql", services=("identity", "image", "volume")) as c:
        yield make_env(c)


def test_life_cycle_and_parallel_claims_on_postgresql(pg_env: Env) -> None:
    b = pg_env.people["b_member"].project_id
    with pg_env.http("b_member") as http:
        vol = http.post("/volumes", json={"volume": {"size": 1, "name": "pg"}}).json()["volume"]
        pg_env.wait(vol["id"], "available", who="b_member")
        snap = http.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}}).json()
        pg_env.wait(snap["snapshot"]["id"], "available", who="b_member", kind="snapshots")
        clone = http.post(
            "/volumes", json={"volume": {"snapshot_id": snap["snapshot"]["id"]}}
        ).json()["volume"]
        pg_env.wait(clone["id"], "available", who="b_member")
        resp = http.post(f"/volumes/{vol['id']}/action", json={"os-extend": {"new_size": 2}})
        assert resp.status_code == 202
        assert pg_env.wait(vol["id"], "available", who="b_member")["size"] == 2
        http.delete(f"/volumes/{clone['id']}")
        http.delete(f"/snapshots/{snap['snapshot']['id']}")
        pg_env.wait(snap["snapshot"]["id"], "deleted", who="b_member", kind="snapshots")
        http.delete(f"/volumes/{vol['id']}")
        for v in (vol, clone):
            pg_env.wait(v["id"], "deleted", who="b_member")
    with pg_env.http("admin") as admin:
        admin.put(f"/os-quota-sets/{b}", json={"quota_set": {"volumes": 3}})

    def create(_: int) -> int:
        with pg_env.http("b_member") as http:
            return http.post("/volumes", json={"volume": {"size": 1}}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, range(8)))
    assert sorted(codes) == [202] * 3 + [413] * 5
