"""The extra DHCP option names the API accepts are exactly those the installed dnsmasq knows,
and each renders as a line of dnsmasq's options file."""

from __future__ import annotations

import subprocess

import pytest

from ministack.common import errors
from ministack.network import dhcp_options
from ministack.network.agent.linux.dnsmasq import dnsmasq_binary


def _known(kind: str) -> dict[str, int]:
    binary = dnsmasq_binary()
    assert binary, "dnsmasq is not installed (apt-get install -y dnsmasq-base)"
    out = subprocess.run([binary, "--help", kind], capture_output=True, check=True).stdout
    rows = [line.split() for line in out.decode().splitlines()[1:] if line.strip()]
    return {name: int(code) for code, name in rows}


def test_the_names_are_dnsmasqs() -> None:
    assert _known("dhcp") == dhcp_options.DHCP4_NAMES
    assert _known("dhcp6") == dhcp_options.DHCP6_NAMES


def test_unknown_names_codes_and_line_breaks_are_400() -> None:
    for name, version, value in (
        ("nope", 4, "x"),
        ("bootfile-url", 4, "x"),
        ("0", 4, "x"),
        ("255", 4, "x"),
        ("65536", 6, "x"),
        ("domain-search", 4, "a\nb"),
    ):
        opt = {"opt_name": name, "opt_value": value, "ip_version": version}
        with pytest.raises(errors.BadRequest):
            dhcp_options.validate([opt])
    assert dhcp_options.validate([{"opt_name": "119", "opt_value": "a.b", "ip_version": "4"}]) == [
        {"opt_name": "119", "opt_value": "a.b", "ip_version": 4}
    ]


def test_each_option_renders_as_dnsmasq_spells_it() -> None:
    assert dhcp_options.dnsmasq_option("domain-search", "a.b", 4) == "option:domain-search,a.b"
    assert dhcp_options.dnsmasq_option("42", "10.0.0.1", 4) == "42,10.0.0.1"
    assert dhcp_options.dnsmasq_option("24", "a.b", 6) == "option6:24,a.b"
    assert dhcp_options.dnsmasq_option("domain-search", "a.b", 6) == "option6:domain-search,a.b"
