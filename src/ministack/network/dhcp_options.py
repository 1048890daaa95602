"""A port's extra DHCP options (`extra_dhcp_opts`), checked at the API against what dnsmasq
knows, so that one bad option is a 400 and never a line dnsmasq refuses for the whole network.

Where it sits: `ports.py` validates a create or update body with `validate`; the agent's
dnsmasq driver renders the stored options with `dnsmasq_option` into the network's options
file, tagged per port. The names are dnsmasq's own (`dnsmasq --help dhcp` and `--help dhcp6`);
a number names any option (1-254 for IPv4, 1-65535 for IPv6).
"""

from __future__ import annotations

from typing import Any

from ministack.common import errors

DHCP4_NAMES: dict[str, int] = {
    "netmask": 1, "time-offset": 2, "router": 3, "dns-server": 6, "log-server": 7,
    "lpr-server": 9, "boot-file-size": 13, "domain-name": 15, "swap-server": 16,
    "root-path": 17, "extension-path": 18, "ip-forward-enable": 19,
    "non-local-source-routing": 20, "policy-filter": 21, "max-datagram-reassembly": 22,
    "default-ttl": 23, "mtu": 26, "all-subnets-local": 27, "router-discovery": 31,
    "router-solicitation": 32, "static-route": 33, "trailer-encapsulation": 34,
    "arp-timeout": 35, "ethernet-encap": 36, "tcp-ttl": 37, "tcp-keepalive": 38,
    "nis-domain": 40, "nis-server": 41, "ntp-server": 42, "netbios-ns": 44, "netbios-dd": 45,
    "netbios-nodetype": 46, "netbios-scope": 47, "x-windows-fs": 48, "x-windows-dm": 49,
    "T1": 58, "T2": 59, "vendor-class": 60, "nis+-domain": 64, "nis+-server": 65,
    "tftp-server": 66, "bootfile-name": 67, "mobile-ip-home": 68, "smtp-server": 69,
    "pop3-server": 70, "nntp-server": 71, "irc-server": 74, "user-class": 77,
    "rapid-commit": 80, "client-arch": 93, "client-interface-id": 94,
    "client-machine-id": 97, "posix-timezone": 100, "tzdb-timezone": 101, "ipv6-only": 108,
    "domain-search": 119, "sip-server": 120, "classless-static-route": 121,
    "vendor-id-encap": 125, "tftp-server-address": 150, "server-ip-address": 255,
}  # fmt: skip
DHCP6_NAMES: dict[str, int] = {
    "sip-server-domain": 21, "sip-server": 22, "dns-server": 23, "domain-search": 24,
    "nis-server": 27, "nis+-server": 28, "nis-domain": 29, "nis+-domain": 30,
    "sntp-server": 31, "information-refresh-time": 32, "posix-timezone": 41,
    "tzdb-timezone": 42, "ntp-server": 56, "bootfile-url": 59, "bootfile-param": 60,
}  # fmt: skip
MAX_CODE = {4: 254, 6: 65535}
FORBIDDEN_IN_VALUE = ("\n", "\r", "\0")


def _known(name: str, version: int) -> bool:
    if name.isdigit():
        return 1 <= int(name) <= MAX_CODE[version]
    return name in (DHCP4_NAMES if version == 4 else DHCP6_NAMES)


def validate(opts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The options as stored (ip_version an int); 400 for a name dnsmasq does not know for
    that IP version, a code out of range, or a value that would break the options file."""
    out = []
    for opt in opts or []:
        name, value = str(opt["opt_name"]), opt["opt_value"]
        version = int(opt.get("ip_version", 4))
        if not _known(name, version):
            raise errors.BadRequest(
                f"Invalid extra_dhcp_opts: {name!r} is not a DHCP option dnsmasq knows for "
                f"IPv{version} (a name of `dnsmasq --help dhcp{'6' if version == 6 else ''}` "
                f"or a number 1-{MAX_CODE[version]})."
            )
        if value is not None and any(c in value for c in FORBIDDEN_IN_VALUE):
            raise errors.BadRequest(
                f"Invalid extra_dhcp_opts: the value of {name!r} has a line break."
            )
        out.append({"opt_name": name, "opt_value": value, "ip_version": version})
    return out


def dnsmasq_option(name: str, value: str, version: int) -> str:
    """`<option>,<value>` as dnsmasq's options file spells it (after the tag)."""
    kind = "option6" if version == 6 else "option"
    return f"{name if name.isdigit() and version == 4 else f'{kind}:{name}'},{value}"
