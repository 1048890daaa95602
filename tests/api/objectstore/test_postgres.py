"""The object store on PostgreSQL: its own code paths there (commits and listings through
SQLAlchemy, names in byte order by the "C" collation, quotas in the commit) give the answers
the SQLite fast paths give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import swiftclient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from tests.cloud import ADMIN_PASSWORD, running_cloud


@pytest.fixture(scope="module")
def pg_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[swiftclient.Connection]:
    tmp: Path = tmp_path_factory.mktemp("object-pg")
    with running_cloud(tmp, backend="postgresql", services=("identity", "object")) as cloud:
        auth = v3.Password(
            auth_url=cloud.auth_url,
            username="admin",
            password=ADMIN_PASSWORD,
            project_name="admin",
            user_domain_id="default",
            project_domain_id="default",
        )
        yield swiftclient.Connection(session=session.Session(auth=auth), retries=0)


@pytest.mark.postgres
def test_objects_listings_and_quotas_on_postgresql(pg_swift: swiftclient.Connection) -> None:
    conn = pg_swift
    conn.put_container("c", headers={"X-Container-Meta-Quota-Count": "5"})
    for name in ["a", "b/1", "b/2", "é", "c/x"]:
        conn.put_object("c", name, name.encode())
    conn.put_object("c", "a", b"replaced")

    def names(**kw: object) -> list[str]:
        rows = conn.get_container("c", **kw)[1]
        return [r.get("name", r.get("subdir")) for r in rows]

    assert names() == ["a", "b/1", "b/2", "c/x", "é"]  # UTF-8 byte order
    assert names(delimiter="/") == ["a", "b/", "c/", "é"]
    assert names(query_string="reverse=true&delimiter=/") == ["é", "c/", "b/", "a"]
    assert names(prefix="b/", marker="b/1") == ["b/2"]
    head = conn.head_container("c")
    assert head["x-container-object-count"] == "5"
    assert head["x-container-bytes-used"] == str(8 + 3 + 3 + 2 + 3)
    with pytest.raises(swiftclient.ClientException) as err:
        conn.put_object("c", "sixth", b"x")
    assert err.value.http_status == 413
    assert conn.get_object("c", "a")[1] == b"replaced"
    conn.delete_object("c", "a")
    assert conn.head_account()["x-account-object-count"] == "4"
