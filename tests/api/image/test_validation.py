"""The image API's declared request schemas: Glance's time filters and sort keys are checked,
bad bodies are 400 (415 for a body that is not JSON) and leave nothing behind."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.image.conftest import Env
from tests.api.rows import grown, row_counts, store_files


@pytest.mark.parametrize(
    "query",
    [
        "created_at=gte:notadate",
        "updated_at=lt:2026-13-45",
        "created_at=between:2026-01-01T00:00:00Z",
        "sort_key=password",
        "sort_dir=sideways",
        "limit=-1",
        "size_min=big",
        "visibility=everyone",
    ],
)
def test_bad_list_filters_are_400(image_env: Env, query: str) -> None:
    with image_env.http() as http:
        resp = http.get(f"/v2/images?{query}")
    assert resp.status_code == 400, resp.text
    assert query.split("=")[0] in resp.json()["error"]["message"]


def test_time_filters_select_images(image_env: Env) -> None:
    with image_env.http() as http:
        created = http.post("/v2/images", json={"name": "time-filter"}).json()
        try:
            stamp = dt.datetime.fromisoformat(created["created_at"].replace("Z", "+00:00"))
            before = (stamp - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            later = (stamp + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            newer = http.get(f"/v2/images?created_at=gte:{before}&limit=1000").json()
            assert created["id"] in [i["id"] for i in newer["images"]]
            none = http.get(f"/v2/images?created_at=gt:{later}").json()
            assert none["images"] == []
        finally:
            http.delete(f"/v2/images/{created['id']}")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 256},
        {"visibility": "everyone"},
        {"min_ram": -1},
        {"min_disk": "1"},
        {"protected": "yes"},
        {"id": "not-a-uuid"},
        {"custom_property": 5},
        {"tags": ["ok", ""]},
    ],
)
def test_bad_create_is_400_and_creates_nothing(image_env: Env, body: dict[str, object]) -> None:
    rows, files = row_counts(image_env.cloud), store_files(image_env.cloud)
    with image_env.http() as http:
        resp = http.post("/v2/images", json=body)
    assert resp.status_code == 400, resp.text
    assert grown(rows, row_counts(image_env.cloud)) == {}
    assert store_files(image_env.cloud) == files


def test_text_plain_create_is_415(image_env: Env) -> None:
    rows = row_counts(image_env.cloud)
    with image_env.http() as http:
        resp = http.post(
            "/v2/images", content=b'{"name": "x"}', headers={"Content-Type": "text/plain"}
        )
    assert resp.status_code == 415, resp.text
    assert grown(rows, row_counts(image_env.cloud)) == {}
