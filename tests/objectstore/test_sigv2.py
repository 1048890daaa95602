"""Signature V2's string to sign, checked against the worked examples of AWS's "Signing and
Authenticating REST Requests" (the example key pair; bucket johnsmith, virtual-host style, so
the app puts /johnsmith in front of the path). The signature is identity's
(`s3tokens.signature_of`): the same HMAC code serves V2 and V4."""

from __future__ import annotations

import datetime as dt

import pytest

from ministack.identity.s3tokens import signature_of
from ministack.objectstore.s3 import sigv2
from ministack.objectstore.s3.sigv4 import Refused

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCESS = "AKIAIOSFODNN7EXAMPLE"


def _at(date: str) -> dt.datetime:
    return dt.datetime.strptime(date, "%a, %d %b %Y %H:%M:%S %z")


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "expected"),
    [
        (  # object GET
            "GET", "/johnsmith/photos/puppy.jpg", b"",
            {"date": "Tue, 27 Mar 2007 19:36:42 +0000"}, "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        ),
        (  # object PUT: Content-Type is signed
            "PUT", "/johnsmith/photos/puppy.jpg", b"",
            {"date": "Tue, 27 Mar 2007 21:15:45 +0000", "content-type": "image/jpeg",
             "content-length": "94328"},
            "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
        ),
        (  # listing: prefix, max-keys and marker are not sub-resources
            "GET", "/johnsmith/", b"prefix=photos&max-keys=50&marker=puppy",
            {"date": "Tue, 27 Mar 2007 19:42:41 +0000", "user-agent": "Mozilla/5.0"},
            "htDYFYduRNen8P9ZfE/s9SuKy0U=",
        ),
        (  # a bare sub-resource
            "GET", "/johnsmith/", b"acl",
            {"date": "Tue, 27 Mar 2007 19:44:46 +0000"}, "c2WLPFtWHVgbEmeEG93a4cG37dM=",
        ),
    ],
)  # fmt: skip
def test_header_signatures_match_aws_examples(
    method: str, path: str, query: bytes, headers: dict[str, str], expected: str
) -> None:
    signed_headers = {**headers, "authorization": f"AWS {ACCESS}:{expected}"}
    signed = sigv2.signed_request(
        method, path, sigv2.raw_query(query), signed_headers, _at(headers["date"])
    )
    assert (signed.access, signed.signature) == (ACCESS, expected)
    assert signature_of(SECRET, signed.string_to_sign) == expected


def test_presigned_query_matches_aws_example() -> None:
    query = sigv2.raw_query(
        b"AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620"
        b"&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
    )
    before = dt.datetime.fromtimestamp(1175139000, dt.UTC)
    signed = sigv2.signed_request("GET", "/johnsmith/photos/puppy.jpg", query, {}, before)
    assert signed.string_to_sign == b"GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
    assert signature_of(SECRET, signed.string_to_sign) == signed.signature
    with pytest.raises(Refused) as refused:
        sigv2.signed_request(
            "GET", "/johnsmith/photos/puppy.jpg", query, {}, before.replace(year=2008)
        )
    assert (refused.value.code, refused.value.message) == ("AccessDenied", "Request has expired")


def test_resource_path() -> None:
    assert sigv2.resource_path("/", None) == "/"  # the service: list buckets
    assert sigv2.resource_path("/b", None) == "/b/"  # a bucket alone, as botocore signs it
    assert sigv2.resource_path("/b/k%20x", None) == "/b/k%20x"  # the path as sent
    assert sigv2.resource_path("/", "b") == "/b/"
    assert sigv2.resource_path("/k", "b") == "/b/k"


def test_canonical_resource_sorts_sub_resources_and_overrides() -> None:
    query = sigv2.raw_query(
        b"uploadId=u%2B1&partNumber=2&max-parts=9&response-content-type=text%2Fplain&uploads"
    )
    assert sigv2.canonical_resource("/b/k", query) == (
        "/b/k?partNumber=2&response-content-type=text/plain&uploadId=u+1&uploads"
    )


def test_amz_headers_are_sorted_and_x_amz_date_blanks_the_date() -> None:
    now = _at("Tue, 27 Mar 2007 21:06:08 +0000")
    headers = {
        "authorization": f"AWS {ACCESS}:sig",
        "date": "Mon, 01 Jan 2001 00:00:00 +0000",  # ignored: x-amz-date wins
        "x-amz-date": "Tue, 27 Mar 2007 21:06:08 +0000",
        "x-amz-meta-reviewedby": "joe@example.com,jane@example.com",
        "x-amz-acl": " public-read ",
        "content-md5": "4gJE4saaMU4BqNR0kLY+lw==",
        "content-type": "application/x-download",
    }
    signed = sigv2.signed_request("PUT", "/static/db.gz", [], headers, now)
    assert signed.string_to_sign == (
        b"PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\n"
        b"x-amz-acl:public-read\nx-amz-date:Tue, 27 Mar 2007 21:06:08 +0000\n"
        b"x-amz-meta-reviewedby:joe@example.com,jane@example.com\n/static/db.gz"
    )


def test_stale_or_undated_header_signatures_are_refused() -> None:
    headers = {"authorization": f"AWS {ACCESS}:sig", "date": "Tue, 27 Mar 2007 19:36:42 +0000"}
    with pytest.raises(Refused) as refused:
        sigv2.signed_request("GET", "/b", [], headers, dt.datetime.now(dt.UTC))
    assert refused.value.code == "RequestTimeTooSkewed"
    with pytest.raises(Refused) as refused:
        sigv2.signed_request(
            "GET", "/b", [], {"authorization": headers["authorization"]}, dt.datetime.now(dt.UTC)
        )
    assert refused.value.code == "AccessDenied"
