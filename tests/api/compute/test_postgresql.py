"""The same claims on PostgreSQL: quota (project row lock) and placement (provider rows
locked FOR UPDATE) stay atomic under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_quotas import settle
from tests.api.compute.test_servers import boot
from tests.cloud import running_cloud


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("compute-pg")
    with running_cloud(tmp, backend="postgresql", services=SERVICES, extra_env=FAKE_ENV) as cloud:
        yield prepare(cloud)


def test_parallel_creates_against_quota_on_postgresql(pg: Compute) -> None:
    pg.conn.compute.update_quota_set(pg.conn.current_project_id, instances=10)
    body = {
        "server": {
            "name": "pg",
            "imageRef": pg.image_id,
            "flavorRef": pg.flavor_id,
            "networks": "none",
        }
    }
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda _: pg.api("POST", "/servers", json=body), range(30)))
    created = [r.json()["server"]["id"] for r in results if r.status_code == 202]
    assert len(created) == 10
    assert [r.status_code for r in results].count(403) == 20
    assert {settle(pg, server_id).status for server_id in created} == {"ACTIVE"}
    for server_id in created:
        pg.api("DELETE", f"/servers/{server_id}")


def test_name_regex_tags_usage_and_migrations_on_postgresql(pg: Compute) -> None:
    alpha = boot(pg, name="pgrx-alpha")
    beta = boot(pg, name="pgrx-beta")
    found = pg.api("GET", "/servers", params={"name": "^pgrx-a"}).json()["servers"]
    assert [s["id"] for s in found] == [alpha.id]
    pg.api("PUT", f"/servers/{alpha.id}/tags", version="2.26", json={"tags": ["x", "y"]})
    pg.api("PUT", f"/servers/{beta.id}/tags/x", version="2.26")

    def ids(**filters: str) -> set[str]:
        resp = pg.api("GET", "/servers", version="2.26", params={"name": "^pgrx-", **filters})
        return {s["id"] for s in resp.json()["servers"]}

    assert ids(tags="x,y") == {alpha.id}
    assert ids(**{"not-tags": "x,y"}) == {beta.id}
    assert ids(**{"tags-any": "y"}) == {alpha.id}
    window = {"start": "2000-01-01T00:00:00", "end": "2100-01-01T00:00:00", "detailed": "1"}
    usage = pg.api("GET", "/os-simple-tenant-usage", params=window)
    assert usage.status_code == 200
    servers = {u["instance_id"] for t in usage.json()["tenant_usages"] for u in t["server_usages"]}
    assert {alpha.id, beta.id} <= servers
    assert pg.api("GET", "/os-migrations").status_code == 200
    for server in (alpha, beta):
        pg.conn.compute.delete_server(server)
