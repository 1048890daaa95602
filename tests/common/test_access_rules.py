"""Access rule matching (keystonemiddleware's templates) and their reading from a Keystone
token body, as a service on another host validates over HTTP."""

from __future__ import annotations

from ministack.common.auth import AccessRule
from ministack.identity.client import auth_from_body


def test_templates_match_one_segment_or_any() -> None:
    one = AccessRule("compute", "GET", "/v2.1/servers/*")
    assert one.allows(("compute",), "GET", "/v2.1/servers/abc")
    assert not one.allows(("compute",), "GET", "/v2.1/servers/abc/action")
    assert not one.allows(("compute",), "GET", "/v2.1/servers/")
    assert not one.allows(("compute",), "POST", "/v2.1/servers/abc")
    assert not one.allows(("image",), "GET", "/v2.1/servers/abc")
    named = AccessRule("compute", "POST", "/v2.1/servers/{server_id}/action")
    assert named.allows(("compute",), "POST", "/v2.1/servers/abc/action")
    deep = AccessRule("object-store", "GET", "/v1/**")
    assert deep.allows(("object-store",), "GET", "/v1/AUTH_p/c/o/with/slashes")
    literal = AccessRule("image", "GET", "/v2/images.json")
    assert not literal.allows(("image",), "GET", "/v2/imagesXjson")


def test_a_token_body_carries_its_access_rules() -> None:
    body = {
        "user": {"id": "u", "name": "n", "domain": {"id": "default"}},
        "expires_at": "2030-01-01T00:00:00.000000Z",
        "roles": [{"id": "r", "name": "member"}],
        "application_credential": {
            "id": "c",
            "restricted": True,
            "access_rules": [{"service": "image", "method": "GET", "path": "/v2/images"}],
        },
    }
    auth = auth_from_body(body)
    assert auth.access_rules == (AccessRule("image", "GET", "/v2/images"),)
    del body["application_credential"]
    assert auth_from_body(body).access_rules is None
