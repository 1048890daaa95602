"""Per-project quotas: image count, total bytes and the size cap give 413 and store nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.image.conftest import Env, make_env
from tests.cloud import running_cloud

MiB = 1 << 20
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("image-quota")
    limits = {
        "MINISTACK_IMAGE_IMAGE_COUNT_TOTAL": "3",
        "MINISTACK_IMAGE_IMAGE_SIZE_TOTAL": str(3 * MiB),
        "MINISTACK_IMAGE_IMAGE_SIZE_CAP": str(2 * MiB),
    }
    with running_cloud(tmp, services=("identity", "image"), extra_env=limits) as cloud:
        yield make_env(cloud)


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(256 * 1024, total - sent)
        sent += n
        yield b"q" * n


def test_size_cap_and_total_bytes(small: Env) -> None:
    with small.http("a_member") as http:
        first = http.post(
            "/v2/images", json={"name": "one", "disk_format": "raw", "container_format": "bare"}
        ).json()
        resp = http.put(
            f"/v2/images/{first['id']}/file", content=b"x" * (2 * MiB + 1), headers=OCTET
        )
        assert resp.status_code == 413
        assert "image_size_cap" in resp.json()["error"]["message"]
        assert http.get(f"/v2/images/{first['id']}").json()["status"] == "queued"
        assert small.stored_files() == set()
        assert (
            http.put(
                f"/v2/images/{first['id']}/file", content=b"x" * (2 * MiB), headers=OCTET
            ).status_code
            == 204
        )

        second = http.post(
            "/v2/images", json={"name": "two", "disk_format": "raw", "container_format": "bare"}
        ).json()
        # chunked: no size announced, the limit is enforced while streaming
        resp = http.put(
            f"/v2/images/{second['id']}/file", content=_chunks(MiB + MiB // 2), headers=OCTET
        )
        assert resp.status_code == 413
        assert http.get(f"/v2/images/{second['id']}").json()["status"] == "queued"
        assert small.stored_files() == {first["id"]}
        assert (
            http.put(
                f"/v2/images/{second['id']}/file", content=b"y" * MiB, headers=OCTET
            ).status_code
            == 204
        )
        # another project has its own quota
        with small.http("b_member") as other:
            third = other.post(
                "/v2/images", json={"name": "b", "disk_format": "raw", "container_format": "bare"}
            ).json()
            assert (
                other.put(
                    f"/v2/images/{third['id']}/file", content=b"z" * (2 * MiB), headers=OCTET
                ).status_code
                == 204
            )
            other.delete(f"/v2/images/{third['id']}")
        for image in (first, second):
            assert http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert small.stored_files() == set()


def test_image_count(small: Env) -> None:
    conn = small.people["b_member"].conn
    made = [
        conn.image.create_image(name=f"c{i}", disk_format="raw", container_format="bare")
        for i in range(3)
    ]
    with small.http("b_member") as http:
        resp = http.post("/v2/images", json={"name": "too-many"})
        assert resp.status_code == 413
        assert "image_count_total" in resp.json()["error"]["message"]
        names = {i["name"] for i in http.get("/v2/images").json()["images"]}
        assert "too-many" not in names
    for image in made:
        conn.image.delete_image(image)
