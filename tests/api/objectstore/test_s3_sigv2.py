"""The S3 API with signature V2: boto3 with ``signature_version="s3"`` (botocore's
HmacV1Auth / HmacV1QueryAuth) and EC2 credentials from identity (`openstack ec2 credentials
create`): buckets, objects, copy, listing, multipart upload, presigned URLs fetched with
httpx, and refusals in S3's XML (wrong secret → SignatureDoesNotMatch, expired → AccessDenied)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from email.utils import formatdate
from typing import Any

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions
import httpx
import pytest

from tests.api.objectstore.conftest import S3_DOMAIN, Env, unique
from tests.nothing_made import nothing_made

V2 = "s3"


@pytest.fixture(scope="module")
def keys(object_env: Env) -> tuple[str, str]:
    created = json.loads(object_env.cli("a_member", "ec2", "credentials", "create", "-f", "json"))
    return created["access"], created["secret"]


def v2_client(env: Env, access: str, secret: str, style: str = "path", url: str = "") -> Any:
    assert V2 in botocore.auth.AUTH_TYPE_MAPS  # botocore still ships its V2 signer
    return boto3.client(
        "s3",
        endpoint_url=url or env.url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="RegionOne",
        config=botocore.config.Config(
            signature_version=V2, s3={"addressing_style": style}, retries={"max_attempts": 1}
        ),
    )


@pytest.fixture
def s3(object_env: Env, keys: tuple[str, str]) -> Any:
    return v2_client(object_env, *keys)


def test_v2_buckets_objects_copy_and_listing(s3: Any, object_env: Env) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(
        Bucket=bucket, Key="dir/a b.txt", Body=b"hello v2", ContentType="text/plain",
        Metadata={"colour": "green"},
    )  # fmt: skip
    got = s3.get_object(Bucket=bucket, Key="dir/a b.txt")
    assert got["Body"].read() == b"hello v2" and got["Metadata"] == {"colour": "green"}
    assert s3.head_object(Bucket=bucket, Key="dir/a b.txt")["ContentLength"] == 8
    # response-* overrides are part of the signed resource
    override = s3.get_object(Bucket=bucket, Key="dir/a b.txt", ResponseContentType="x/y")
    assert override["ContentType"] == "x/y"
    s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "dir/a b.txt"}
    )  # x-amz-copy-source is a signed x-amz header
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"hello v2"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [c["Key"] for c in listed["Contents"]] == ["dir/a b.txt"]
    assert [c["Key"] for c in s3.list_objects(Bucket=bucket)["Contents"]] == ["copy", "dir/a b.txt"]
    assert object_env.swift("a_member").get_object(bucket, "copy")[1] == b"hello v2"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy"}]})  # ?delete
    s3.delete_object(Bucket=bucket, Key="dir/a b.txt")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "404"


def test_v2_multipart_upload(s3: Any) -> None:
    """?uploads, ?partNumber=&uploadId=, ?uploadId= are sub-resources V2 signs."""
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, start=1)
    ]
    listed = s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(parts)
    other = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=other)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=other)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"


def test_v2_presigned_urls(s3: Any, object_env: Env) -> None:
    """PROMISES 27 with V2 query signatures: ?AWSAccessKeyId=…&Expires=…&Signature=…"""
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"presigned v2")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc"})
    assert "AWSAccessKeyId=" in url and "Expires=" in url and "X-Amz-" not in url
    assert httpx.get(url).content == b"presigned v2"
    with nothing_made(object_env.cloud):
        assert httpx.put(url, content=b"x").status_code == 403  # another method
        other = httpx.get(url.replace("/doc?", "/other?"))  # another key
        assert other.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in other.content
        expired = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "doc"}, ExpiresIn=-60
        )  # Expires already in the past: no waiting
        refused = httpx.get(expired)
        assert refused.status_code == 403 and refused.content.startswith(b"<?xml")
        assert b"<Code>AccessDenied</Code>" in refused.content
        assert b"Request has expired" in refused.content
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"})
    assert httpx.put(put_url, content=b"uploaded").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded"


def test_v2_wrong_secret_is_403_signature_does_not_match(
    object_env: Env, keys: tuple[str, str]
) -> None:
    access, _ = keys
    bad = v2_client(object_env, access, "wrong-secret")
    with nothing_made(object_env.cloud), pytest.raises(botocore.exceptions.ClientError) as err:
        bad.create_bucket(Bucket=unique("bkt"))
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    url = bad.generate_presigned_url("list_buckets")
    raw = httpx.get(url)
    assert raw.status_code == 403 and raw.content.startswith(b"<?xml")
    assert b"<Code>SignatureDoesNotMatch</Code>" in raw.content
    stale = httpx.get(
        f"{object_env.url}/",
        headers={"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": f"AWS {access}:x"},
    )
    assert stale.status_code == 403 and b"<Code>RequestTimeTooSkewed</Code>" in stale.content
    unsigned_date = httpx.get(
        f"{object_env.url}/",
        headers={"Date": formatdate(usegmt=True), "Authorization": f"AWS {access}:bm90aXQ="},
    )
    assert b"<Code>SignatureDoesNotMatch</Code>" in unsigned_date.content


def test_v2_virtual_host_style(object_env: Env, keys: tuple[str, str]) -> None:
    """A virtual-host-style V2 signature covers /<bucket>/<key> (the bucket from the Host)."""
    port = httpx.URL(object_env.url).port
    virtual = v2_client(object_env, *keys, style="virtual", url=f"http://{S3_DOMAIN}:{port}")
    bucket = unique("bkt")
    v2_client(object_env, *keys).create_bucket(Bucket=bucket)
    object_env.swift("a_member").put_object(bucket, "vh", b"virtual v2")
    url = httpx.URL(
        virtual.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "vh"})
    )
    assert url.host == f"{bucket}.{S3_DOMAIN}" and "AWSAccessKeyId" in str(url)
    resp = httpx.get(
        url.copy_with(host="127.0.0.1"), headers={"Host": f"{bucket}.{S3_DOMAIN}:{port}"}
    )
    assert resp.status_code == 200 and resp.content == b"virtual v2"


def test_identity_s3tokens_checks_a_v2_string_over_http(
    object_env: Env, keys: tuple[str, str]
) -> None:
    """Keystone's /v3/s3tokens with a V2 string to sign (base64 HMAC-SHA1), as an object
    service on another host (HttpS3Signatures) sends it."""
    access, secret = keys
    text = f"GET\n\n\n{formatdate(usegmt=True)}\n/bkt/key".encode()

    def body(key: str) -> dict[str, Any]:
        digest = hmac.new(key.encode(), text, hashlib.sha1).digest()
        token, signature = base64.b64encode(text).decode(), base64.b64encode(digest).decode()
        return {"credentials": {"access": access, "token": token, "signature": signature}}

    resp = httpx.post(f"{object_env.cloud.auth_url}/s3tokens", json=body(secret))
    assert resp.status_code == 200, resp.text
    assert resp.json()["token"]["project"]["id"] == object_env.people["a_member"].project_id
    assert (
        httpx.post(f"{object_env.cloud.auth_url}/s3tokens", json=body("wrong")).status_code == 401
    )
