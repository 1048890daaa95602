"""The S3 API with boto3 and EC2 credentials from identity (`openstack ec2 credentials
create`): buckets, objects, ListObjectsV2, ranges, copy, multipart upload, presigned URLs
(PROMISES 27), a bad signature (403 SignatureDoesNotMatch), and objects shared with Swift."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import boto3.s3.transfer
import botocore.config
import botocore.exceptions
import httpx
import pytest

from tests.api.objectstore.conftest import S3_DOMAIN, Env, unique
from tests.nothing_made import nothing_made


@dataclass
class Keys:
    access: str
    secret: str


@pytest.fixture(scope="module")
def keys(object_env: Env) -> Keys:
    out = object_env.cli("a_member", "ec2", "credentials", "create", "-f", "json")
    created = json.loads(out)
    return Keys(created["access"], created["secret"])


def client(env: Env, keys: Keys, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=env.url,
        aws_access_key_id=keys.access,
        aws_secret_access_key=keys.secret,
        region_name="RegionOne",
        config=botocore.config.Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config
        ),
    )


@pytest.fixture
def s3(object_env: Env, keys: Keys) -> Iterator[Any]:
    yield client(object_env, keys)


def test_buckets_and_objects(s3: Any, object_env: Env) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names
    put = s3.put_object(
        Bucket=bucket, Key="a/b.txt", Body=b"hello s3", Metadata={"colour": "green"},
        ContentType="text/plain",
    )  # fmt: skip
    assert put["ETag"] == f'"{hashlib.md5(b"hello s3").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert got["Body"].read() == b"hello s3"
    assert got["Metadata"] == {"colour": "green"}
    assert got["ContentType"] == "text/plain"
    head = s3.head_object(Bucket=bucket, Key="a/b.txt")
    assert head["ContentLength"] == 8
    part = s3.get_object(Bucket=bucket, Key="a/b.txt", Range="bytes=6-")
    assert part["Body"].read() == b"s3"
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "a/b.txt"})
    assert s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == b"hello s3"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.delete_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "BucketNotEmpty"
    for key in ("a/b.txt", "copy.txt"):
        s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "404"


def test_list_objects_v2(s3: Any) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    keys = ["a", "d/1", "d/2", "e/x/1", "z"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [c["Key"] for c in listed["Contents"]] == keys
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in top["Contents"]] == ["a", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["d/", "e/"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="d/")["Contents"]] == [
        "d/1",
        "d/2",
    ]
    seen: list[str] = []
    kwargs: dict[str, object] = {"Bucket": bucket, "MaxKeys": 2, "Delimiter": "/"}
    while True:
        page = s3.list_objects_v2(**kwargs)
        seen += [c["Key"] for c in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert sorted(seen) == ["a", "d/", "e/", "z"]
    paginator = s3.get_paginator("list_objects_v2")
    every = [
        c["Key"]
        for p in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
        for c in p["Contents"]
    ]
    assert every == keys


def test_multipart_upload(s3: Any, object_env: Env) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    parts_data = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ContentType="application/x-big")
    uid = upload["UploadId"]
    etags = []
    for number, data in enumerate(parts_data, start=1):
        resp = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=number, Body=data)
        etags.append(resp["ETag"])
    listed = s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ContentType"] == "application/x-big"
    # the same object through Swift: a static large object that reads whole
    conn = object_env.swift("a_member")
    headers, body = conn.get_object(bucket, "big")
    assert body == b"".join(parts_data) and headers["x-static-large-object"] == "True"
    # abort leaves nothing; a deleted multipart object takes its parts along
    other = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=other, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=other)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=other)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"
    s3.delete_object(Bucket=bucket, Key="big")
    assert conn.get_container(f"{bucket}+segments")[1] == []


def test_upload_file_uses_multipart_transfer(s3: Any, tmp_path: Path) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    path = tmp_path / "f.bin"
    data = os.urandom(11 * 1024 * 1024)
    path.write_bytes(data)
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    s3.upload_file(str(path), bucket, "f.bin", Config=config)
    assert s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read() == data


def test_presigned_urls(s3: Any, object_env: Env) -> None:
    """PROMISES 27: a presigned URL grants its method on its object until it expires."""
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"presigned body")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "doc"}, ExpiresIn=300
    )
    assert httpx.get(url).content == b"presigned body"
    with nothing_made(object_env.cloud):
        assert httpx.put(url, content=b"x").status_code == 403  # another method
        assert httpx.get(url.replace("/doc?", "/other?")).status_code == 403  # another key
        short = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "doc"}, ExpiresIn=1
        )
        time.sleep(2)
        expired = httpx.get(short)
        assert expired.status_code == 403 and b"expired" in expired.content
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=300
    )
    assert httpx.put(put_url, content=b"uploaded").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded"


def test_bad_signature_is_403_in_s3_xml(object_env: Env, keys: Keys) -> None:
    bad = client(object_env, Keys(keys.access, "wrong-secret"))
    with nothing_made(object_env.cloud), pytest.raises(botocore.exceptions.ClientError) as err:
        bad.create_bucket(Bucket=unique("bkt"))
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = client(object_env, Keys("no-such-access-key", keys.secret))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        unknown.list_buckets()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    raw = httpx.get(f"{object_env.url}/")
    assert raw.status_code == 403 and raw.content.startswith(b"<?xml")
    assert b"<Code>AccessDenied</Code>" in raw.content


def test_objects_cross_between_s3_and_swift(s3: Any, object_env: Env) -> None:
    conn = object_env.swift("a_member")
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="from-s3", Body=b"written by s3", Metadata={"k": "v"})
    headers, body = conn.get_object(bucket, "from-s3")
    assert body == b"written by s3" and headers["x-object-meta-k"] == "v"
    conn.put_object(bucket, "from-swift", b"written by swift", headers={"X-Object-Meta-W": "1"})
    got = s3.get_object(Bucket=bucket, Key="from-swift")
    assert got["Body"].read() == b"written by swift" and got["Metadata"] == {"w": "1"}
    swift_names = [r["name"] for r in conn.get_container(bucket)[1]]
    s3_names = [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert swift_names == s3_names == ["from-s3", "from-swift"]


def test_other_projects_bucket_is_not_reachable(s3: Any, object_env: Env) -> None:
    other = object_env.swift("b_member")
    name = unique("bkt")
    other.put_container(name)
    other.put_object(name, "secret", b"b's")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=name, Key="secret")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"  # a's project has no such bucket


def test_virtual_host_style(object_env: Env, keys: Keys) -> None:
    """Requests to <bucket>.s3.localhost address the bucket by host name (no DNS needed here:
    the URL boto3 signs is sent to 127.0.0.1 with its Host header)."""
    port = httpx.URL(object_env.url).port
    virtual = boto3.client(
        "s3",
        endpoint_url=f"http://{S3_DOMAIN}:{port}",
        aws_access_key_id=keys.access,
        aws_secret_access_key=keys.secret,
        region_name="RegionOne",
        config=botocore.config.Config(s3={"addressing_style": "virtual"}),
    )
    bucket = unique("bkt")
    client(object_env, keys).create_bucket(Bucket=bucket)
    object_env.swift("a_member").put_object(bucket, "vh", b"virtual host")
    url = httpx.URL(
        virtual.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "vh"})
    )
    assert url.host == f"{bucket}.{S3_DOMAIN}"
    resp = httpx.get(
        url.copy_with(host="127.0.0.1"), headers={"Host": f"{bucket}.{S3_DOMAIN}:{port}"}
    )
    assert resp.status_code == 200 and resp.content == b"virtual host"


def _v4_signature(secret: str, string_to_sign: bytes) -> str:
    scope = string_to_sign.split(b"\n")[2].split(b"/")
    key = ("AWS4" + secret).encode()
    for part in scope:
        key = hmac.new(key, part, hashlib.sha256).digest()
    return hmac.new(key, string_to_sign, hashlib.sha256).hexdigest()


def test_identity_s3tokens_over_http(object_env: Env, keys: Keys) -> None:
    """Keystone's /v3/s3tokens, as a object service on another host asks it."""
    text = b"AWS4-HMAC-SHA256\n20261205T000000Z\n20261205/RegionOne/s3/aws4_request\n" + b"0" * 64
    body = {
        "credentials": {
            "access": keys.access,
            "token": base64.b64encode(text).decode(),
            "signature": _v4_signature(keys.secret, text),
        }
    }
    resp = httpx.post(f"{object_env.cloud.auth_url}/s3tokens", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["token"]["project"]["id"] == object_env.people["a_member"].project_id
    assert resp.headers["X-Subject-Token"]
    body["credentials"]["signature"] = _v4_signature("wrong", text)
    assert httpx.post(f"{object_env.cloud.auth_url}/s3tokens", json=body).status_code == 401


def test_bad_digest_stores_nothing(s3: Any, object_env: Env) -> None:
    """PROMISES 25 through S3: a body that does not match its Content-MD5 is refused (400
    BadDigest) and the previous version stays."""
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with nothing_made(object_env.cloud), pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"new", ContentMD5=wrong)
    assert err.value.response["Error"]["Code"] == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"


def test_delete_objects(s3: Any, object_env: Env) -> None:
    bucket = unique("del")
    s3.create_bucket(Bucket=bucket)
    for key in ("a", "b/c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    before = object_env.data_files()
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b/c"}, {"Key": "missing"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b/c", "missing"]
    assert not result.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d"]
    assert len(before - object_env.data_files()) == 2
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_canned_bucket_acls_map_to_container_acls(s3: Any, object_env: Env) -> None:
    bucket = unique("acl")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"shared")
    url = f"/v1/{object_env.people['a_member'].account}/{bucket}/doc"
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    with object_env.http(None) as anon:
        assert anon.get(url).status_code == 401
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
        assert anon.get(url).content == b"shared"
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        public = [g for g in grants if g["Grantee"].get("URI", "").endswith("/AllUsers")]
        assert [g["Permission"] for g in public] == ["READ"]
        assert len(s3.get_object_acl(Bucket=bucket, Key="doc")["Grants"]) == 2
        assert object_env.swift("a_member").head_container(bucket)["x-container-read"]
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
        assert exc.value.response["Error"]["Code"] == "NotImplemented"
        assert anon.get(url).status_code == 200  # unchanged
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
        assert anon.get(url).status_code == 401
    public_bucket = unique("acl")
    s3.create_bucket(Bucket=public_bucket, ACL="public-read")
    assert len(s3.get_bucket_acl(Bucket=public_bucket)["Grants"]) == 2


def test_s3_writes_are_versioned_like_swift_writes(s3: Any, object_env: Env) -> None:
    bucket, archive = unique("ver"), unique("arch")
    conn = object_env.swift("a_member")
    conn.put_container(archive)
    s3.create_bucket(Bucket=bucket)
    conn.post_container(bucket, {"X-Versions-Location": archive})
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert [o["name"][:4] for o in conn.get_container(archive)[1]] == ["001k"]
    s3.delete_object(Bucket=bucket, Key="k")  # stack mode: the previous version comes back
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_object(Bucket=bucket, Key="k")  # absent: still 204, as S3 answers
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def aws(env: Env, keys: Keys, home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The AWS CLI (from PyPI) against the object store, with the EC2 credentials only."""
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": keys.access,
        "AWS_SECRET_ACCESS_KEY": keys.secret,
        "AWS_DEFAULT_REGION": "RegionOne",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    argv = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", env.url, *args]
    return subprocess.run(argv, env=environ, capture_output=True, timeout=120, check=False)


def test_aws_cli_cp_ls_and_a_presigned_url_fetched_with_curl(
    s3: Any, object_env: Env, keys: Keys, tmp_path: Path
) -> None:
    """`aws s3 cp` up (9 MiB: the CLI's multipart upload) and down, `aws s3 ls`, and
    `aws s3 presign` whose URL curl fetches; a tampered URL is 403 for curl too."""
    bucket = unique("bkt")
    assert aws(object_env, keys, tmp_path, "s3", "mb", f"s3://{bucket}").returncode == 0
    data = os.urandom(9 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    up = aws(object_env, keys, tmp_path, "s3", "cp", str(src), f"s3://{bucket}/dir/big.bin")
    assert up.returncode == 0, up.stderr
    etag = s3.head_object(Bucket=bucket, Key="dir/big.bin")["ETag"]
    assert etag.strip('"').endswith("-2")  # two parts of the CLI's 8 MiB chunks
    listed = aws(object_env, keys, tmp_path, "s3", "ls", f"s3://{bucket}/dir/")
    assert listed.returncode == 0 and b"big.bin" in listed.stdout, listed
    back = tmp_path / "back.bin"
    down = aws(object_env, keys, tmp_path, "s3", "cp", f"s3://{bucket}/dir/big.bin", str(back))
    assert down.returncode == 0 and back.read_bytes() == data, down.stderr

    presign = aws(object_env, keys, tmp_path, "s3", "presign", f"s3://{bucket}/dir/big.bin")
    assert presign.returncode == 0, presign.stderr
    url = presign.stdout.decode().strip()
    fetched = tmp_path / "curl.bin"
    curl = ["curl", "-sS", "-f", "-o", str(fetched), url]
    assert subprocess.run(curl, capture_output=True, timeout=60).returncode == 0
    assert fetched.read_bytes() == data
    tampered = url.replace("big.bin", "other.bin")
    code = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", tampered],
        capture_output=True,
        timeout=60,
    )
    assert code.stdout == b"403"
