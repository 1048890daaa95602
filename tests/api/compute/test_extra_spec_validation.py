"""Flavor extra-spec validation at microversion 2.86 (Nova's validators): known keys with bad
values and unknown keys in known namespaces are 400 and change nothing; unknown namespaces and
keys without a namespace pass; below 2.86 nothing is checked. Driven with the `openstack` CLI
(`--os-compute-api-version`) and raw requests."""

from __future__ import annotations

import uuid

import pytest

from tests.api.compute.conftest import Compute

GOOD = {
    "hw:cpu_policy": "dedicated",
    "hw:numa_nodes": "2",
    "hw:numa_cpus.0": "0-1",
    "hw:numa_mem.1": "512",
    "hw:mem_page_size": "2MB",
    "hw_rng:allowed": "True",
    "hw_video:ram_max_mb": "64",
    "quota:disk_read_iops_sec": "1000",
    "resources:VCPU": "2",
    "resources1:CUSTOM_GPU": "1",
    "trait:HW_CPU_X86_AVX": "required",
    "trait2:CUSTOM_FAST": "forbidden",
    "aggregate_instance_extra_specs:ssd": "true",
    "capabilities:cpu_info:arch": "x86_64",
    "os:secure_boot": "required",
    "pci_passthrough:alias": "a1:2, b2:1",
    "accel:device_profile": "fpga",
    "group_policy": "isolate",
    "acme:anything": "goes",  # a namespace Nova does not know
    "plain_key": "whatever",  # no namespace
}
BAD = [
    ("hw:cpu_policy", "sometimes", "is not one of"),
    ("hw:no_such_spec", "1", "does not appear to be a valid extra spec"),
    ("hw:numa_nodes", "zero", "not a valid integer"),
    ("hw:numa_nodes", "0", "less than the min value"),
    ("hw:redirected_usb_ports", "16", "greater than the max value"),
    ("hw_rng:allowed", "perhaps", "boolean-like"),
    ("hw:mem_page_size", "huge", "is not of the format"),
    ("trait:NOT_A_TRAIT", "required", "does not appear to be a valid extra spec"),
    ("trait:HW_CPU_X86_AVX", "wanted", "is not one of"),
    ("resources:VCPU", "two", "not a valid integer"),
    ("quota:cpu_limit", "-1", "less than the min value"),
    ("capabilities:no_such_capability", "1", "does not appear to be a valid extra spec"),
]


@pytest.fixture
def flavor(compute: Compute) -> str:
    made = compute.conn.compute.create_flavor(
        name=f"specs-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=1
    )
    return str(made.id)


def specs(compute: Compute, flavor: str) -> dict[str, str]:
    got = compute.api("GET", f"/flavors/{flavor}/os-extra_specs", version="2.86")
    assert got.status_code == 200, got.text
    return dict(got.json()["extra_specs"])


def test_known_specs_pass_at_2_86(compute: Compute, flavor: str) -> None:
    resp = compute.api(
        "POST", f"/flavors/{flavor}/os-extra_specs", version="2.86", json={"extra_specs": GOOD}
    )
    assert resp.status_code == 200, resp.text
    assert specs(compute, flavor) == GOOD
    one = compute.api(
        "PUT", f"/flavors/{flavor}/os-extra_specs/hw:numa_nodes", version="2.86",
        json={"hw:numa_nodes": 4},
    )  # fmt: skip
    assert one.status_code == 200 and one.json() == {"hw:numa_nodes": "4"}


@pytest.mark.parametrize(("key", "value", "message"), BAD)
def test_bad_specs_are_400_at_2_86_and_store_nothing(
    compute: Compute, flavor: str, key: str, value: str, message: str
) -> None:
    body = {"extra_specs": {"hw:cpu_policy": "shared", key: value}}
    made = compute.api("POST", f"/flavors/{flavor}/os-extra_specs", version="2.86", json=body)
    assert made.status_code == 400, made.text
    assert message in made.json()["badRequest"]["message"]
    one = compute.api(
        "PUT", f"/flavors/{flavor}/os-extra_specs/{key}", version="2.86", json={key: value}
    )
    assert one.status_code == 400, one.text
    assert specs(compute, flavor) == {}
    # before 2.86 the same keys and values are stored unchecked
    old = compute.api("POST", f"/flavors/{flavor}/os-extra_specs", version="2.85", json=body)
    assert old.status_code == 200, old.text
    assert specs(compute, flavor) == {"hw:cpu_policy": "shared", key: value}


def test_the_cli_at_2_86(compute: Compute, flavor: str) -> None:
    cli = compute.cloud.cli
    refused = cli(
        "--os-compute-api-version", "2.86", "flavor", "set", "--property",
        "hw:cpu_policy=sometimes", flavor, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "is not one of: dedicated, shared, mixed" in refused.stderr
    cli(
        "--os-compute-api-version", "2.86", "flavor", "set", "--property",
        "hw:cpu_policy=dedicated", "--property", "acme:x=y", flavor,
    )  # fmt: skip
    assert specs(compute, flavor) == {"hw:cpu_policy": "dedicated", "acme:x": "y"}
    cli("--os-compute-api-version", "2.85", "flavor", "set", "--property", "hw:bogus=1", flavor)
    assert specs(compute, flavor)["hw:bogus"] == "1"
