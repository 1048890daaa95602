"""Bad input gets Nova's 4xx with a message naming what is wrong, and creates nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api.compute.conftest import Compute
from tests.nothing_made import nothing_made


def server_body(compute: Compute, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "bad",
        "imageRef": compute.image_id,
        "flavorRef": compute.flavor_id,
        "networks": "none",
    }
    body.update(changes)
    return {"server": body}


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"flavorRef": "no-such-flavor"}, 400, "Flavor no-such-flavor could not be found"),
        (
            {"imageRef": "7b4d3a6e-0000-4000-8000-000000000000"},
            400,
            "Image 7b4d3a6e-0000-4000-8000-000000000000 could not be found",
        ),
        ({"user_data": "not base64!!"}, 400, "base 64"),
        ({"user_data": base64.b64encode(b"x" * 50000).decode()}, 400, "65535"),
        ({"name": "x" * 256}, 400, "too long"),
        ({"metadata": {"bad/key": "v"}}, 400, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(129)}}, 403, "metadata_items"),
        ({"key_name": "nope"}, 400, "Invalid key_name"),
        ({"networks": None}, 400, "networks"),
        ({"availability_zone": "atlantis"}, 400, "availability zone"),
        ({"min_count": 3, "max_count": 2}, 400, "min_count"),
    ],
)
def test_bad_create_is_4xx_and_creates_nothing(
    compute: Compute, changes: dict[str, Any], status: int, words: str
) -> None:
    with nothing_made(compute):
        resp = compute.api("POST", "/servers", json=server_body(compute, **changes))
        assert resp.status_code == status, resp.text
        (body,) = resp.json().values()
        assert words in body["message"]


def test_unsupported_microversion_is_406(compute: Compute) -> None:
    resp = compute.api("GET", "/servers", version="2.97")
    assert resp.status_code == 406
    assert "maximum is 2.96" in resp.json()["notAcceptable"]["message"]
    ok = compute.api("GET", "/servers", version="2.96")
    assert ok.headers["OpenStack-API-Version"] == "compute 2.96"
    assert ok.headers["X-Compute-Request-Id"].startswith("req-")


def test_networks_required_only_from_2_37(compute: Compute) -> None:
    body = server_body(compute)
    del body["server"]["networks"]
    resp = compute.api("POST", "/servers", version="2.36", json=body)
    assert resp.status_code == 202
    compute.api("DELETE", f"/servers/{resp.json()['server']['id']}")
    with nothing_made(compute):
        assert compute.api("POST", "/servers", version="2.37", json=body).status_code == 400


def test_body_too_large_is_413(compute: Compute) -> None:
    with nothing_made(compute):
        resp = compute.api("POST", "/servers", content=b"{" + b" " * 120000 + b"}")
        assert resp.status_code == 413
