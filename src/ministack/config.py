"""One typed settings object, read from a TOML file and MINISTACK_* environment variables.

Every key is declared once below with its type, default and help; `docs/config.md` is generated
from these declarations (`ministack config-doc`). Precedence: environment > file > default.
The file is ``<state_dir>/ministack.toml`` unless ``MINISTACK_CONFIG`` names another path.
An environment variable is ``MINISTACK_<SECTION>_<KEY>``, e.g. ``MINISTACK_DATABASE_URL``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


def _default_state_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/ministack"
    return str(Path.home() / ".local/share/ministack")


@dataclass(frozen=True)
class DefaultSection:
    state_dir: str = _opt(_default_state_dir(), "Where the database, keys, logs and images live.")
    debug: bool = _opt(False, "Log at DEBUG level and include more detail in logs.")
    bind_host: str = _opt("127.0.0.1", "Address every API listens on.")
    public_host: str = _opt("127.0.0.1", "Host name or address written into the catalog.")
    region: str = _opt("RegionOne", "Region name in the catalog.")
    host: str = _opt("", "Name of this host (defaults to the machine's host name).")
    trusted_proxies: tuple[str, ...] = _opt(
        (),
        "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed for the client's address; empty: none, loopback "
        "included. Response links always use public_host and the service's port.",
    )


@dataclass(frozen=True)
class DatabaseSection:
    url: str = _opt(
        "",
        "SQLAlchemy URL. Empty: SQLite (WAL) in the state directory. Also "
        "postgresql://user@host/db or mysql://user@host/db.",
    )


@dataclass(frozen=True)
class MessagingSection:
    url: str = _opt(
        "memory://", "Message bus: memory:// (in-process) or amqp://user:pw@host:5672/."
    )


@dataclass(frozen=True)
class ServicesSection:
    enabled: tuple[str, ...] = _opt(
        ("all",), "Services this process runs: all, or a list of identity, image, compute, ..."
    )
    identity_port: int = _opt(5000, "Identity API port.")
    compute_port: int = _opt(8774, "Compute API port.")
    placement_port: int = _opt(8778, "Placement API port.")
    image_port: int = _opt(9292, "Image API port.")
    network_port: int = _opt(9696, "Networking API port.")
    volume_port: int = _opt(8776, "Block Storage API port.")
    object_port: int = _opt(8080, "Object Storage API port.")
    dashboard_port: int = _opt(8000, "Dashboard port.")


@dataclass(frozen=True)
class IdentitySection:
    admin_password: str = _opt("", "Password of the admin user; generated at first start if empty.")
    token_expiration: int = _opt(3600, "Token lifetime in seconds.")
    max_request_body_size: int = _opt(114688, "Largest request body accepted, in bytes.")
    password_hash_rounds: int = _opt(12, "bcrypt cost for stored passwords.")
    password_cache_seconds: int = _opt(300, "How long a verified password skips bcrypt.")
    auth_url: str = _opt(
        "",
        "Keystone v3 URL (http://controller:5000/v3) where services validate tokens and service "
        "users log in; empty means this host's identity service.",
    )
    token_cache_seconds: int = _opt(30, "How long remote services cache a validated token.")


# service -> the identity user it calls other services as (DevStack's names)
SERVICE_USERS: dict[str, str] = {
    "compute": "nova",
    "image": "glance",
    "placement": "placement",
    "network": "neutron",
    "volume": "cinder",
}


@dataclass(frozen=True)
class NetworkAgentSection:
    enabled: bool = _opt(
        False,
        "Run this host's network agent (bridges, VXLAN, DHCP, metadata) with the network "
        "service. Needs root; ./stack.sh turns it on.",
    )
    dhcp: bool = _opt(True, "This host serves DHCP (and metadata) for every network.")
    local_ip: str = _opt("", "This host's VXLAN tunnel endpoint address ('' : no tunnels).")
    underlay_device: str = _opt("", "Device VXLAN packets leave by ('' : the routing table).")
    host_netns: str = _opt(
        "",
        "Run the data plane inside this network namespace (a simulated host for tests); the "
        "libvirt driver then moves each guest's tap into it.",
    )
    metadata_secret: str = _opt(
        "", "Shared secret signing instance ids at the metadata proxy ('' : random per start)."
    )
    bridge_mappings: tuple[str, ...] = _opt(
        (),
        "physical_network:bridge pairs (Neutron's bridge_mappings): a flat network on that "
        "physical network puts its ports on that existing bridge, which the agent never makes "
        "or removes.",
    )
    resync_interval: int = _opt(30, "Seconds between full re-syncs of the host's data plane.")
    report_interval: int = _opt(30, "Seconds between the agents' heartbeats.")


@dataclass(frozen=True)
class ServiceAuthSection:
    project_name: str = _opt("service", "Project of the service users (DevStack: service).")
    interface: str = _opt(
        "internal", "Catalog interface service-to-service calls use: internal, public or admin."
    )
    nova_password: str = _opt(
        "", "Password of the nova user compute calls other services as; `ministack init` sets it."
    )
    glance_password: str = _opt("", "Password of the glance service user; set by `ministack init`.")
    placement_password: str = _opt(
        "", "Password of the placement service user; set by `ministack init`."
    )
    neutron_password: str = _opt(
        "", "Password of the neutron service user; set by `ministack init`."
    )
    cinder_password: str = _opt("", "Password of the cinder service user; set by `ministack init`.")

    def password(self, user: str) -> str:
        """The configured password of service user `user` ('' when not configured)."""
        value: str = getattr(self, f"{user}_password", "")
        return value


@dataclass(frozen=True)
class SecurityComplianceSection:
    """Keystone's [security_compliance] options: every one is off by default, as in Keystone."""

    lockout_failure_attempts: int = _opt(
        0, "Failed password logins in a row that lock a user's account; 0: never lock."
    )
    lockout_duration: int = _opt(
        1800, "Seconds an account stays locked after lockout_failure_attempts failures."
    )
    password_regex: str = _opt(
        "",
        "Regular expression every new password must match (e.g. '^.{12,}$' for a minimum "
        "length); empty: any password.",
    )
    password_regex_description: str = _opt(
        "", "The password_regex in words, shown to a user whose new password does not match."
    )
    password_expires_days: int = _opt(
        0, "Days a password stays valid after it is set; 0: passwords never expire."
    )
    unique_last_password_count: int = _opt(
        0,
        "A user changing their password cannot reuse any of this many most recent ones "
        "(the current one included); 0: no history.",
    )
    change_password_upon_first_use: bool = _opt(
        False,
        "A password set by an administrator (user create or reset) must be changed by the "
        "user before it can be used to log in.",
    )


@dataclass(frozen=True)
class LibvirtSection:
    uri: str = _opt(
        "qemu:///system",
        "libvirt URI of the hypervisor; qemu+ssh://host/system or qemu+tcp://host/system "
        "for a remote libvirtd.",
    )
    virt_type: str = _opt(
        "auto", "auto (KVM only when a probe guest boots with it, else QEMU emulation), kvm, qemu."
    )
    instances_path: str = _opt(
        "", "Per-instance disks, config drives and console logs; empty: <state_dir>/instances."
    )
    image_cache_path: str = _opt(
        "", "Base images shared by instances; empty: <state_dir>/imagecache."
    )
    image_cache_max_age: int = _opt(86400, "Seconds an unused base image stays in the image cache.")
    remove_orphans: bool = _opt(
        False, "Remove ministack domains that match no instance (otherwise only report them)."
    )
    shutdown_timeout: int = _opt(
        60, "Seconds a clean (ACPI) shutdown or soft reboot may take before a hard stop."
    )


@dataclass(frozen=True)
class ImageSection:
    store_dir: str = _opt("", "Where image data lives; empty means <state_dir>/images.")
    store: str = _opt(
        "file",
        "Default store of new image data: 'file' (store_dir) or 'object' (objects in the "
        "object store, as the glance service user).",
    )
    stores: str = _opt(
        "",
        "Enabled stores, comma-separated ('file,object'; Glance's enabled_backends); empty: "
        "only the default store. copy-image copies an image between them.",
    )
    object_container: str = _opt(
        "glance", "Container of the glance user's account that holds the 'object' store's images."
    )
    image_size_cap: int = _opt(1099511627776, "Largest image accepted, in bytes (Glance: 1 TiB).")
    image_count_total: int = _opt(100, "Images one project may own; -1 for unlimited.")
    image_size_total: int = _opt(
        1099511627776, "Bytes of image data (stored and staged) one project may hold; -1: no limit."
    )
    web_download_allowed_hosts: str = _opt(
        "",
        "Hosts (names or IP addresses, comma-separated) the web-download import method may fetch "
        "from, over http or https; empty: web-download refuses every URL.",
    )


@dataclass(frozen=True)
class VolumeSection:
    volumes_dir: str = _opt("", "Where the file backend keeps volumes; empty: <state_dir>/volumes.")
    default_volume_type: str = _opt("__DEFAULT__", "Volume type of a volume created without one.")
    storage_availability_zone: str = _opt("nova", "Availability zone of this volume service.")
    service_down_time: int = _opt(
        60, "Seconds without a heartbeat before a volume service is down."
    )
    test_delays: str = _opt(
        "", "File backend delays in seconds for kill-and-restart tests, e.g. 'create=5,delete=5'."
    )
    storage_address: str = _opt(
        "127.0.0.1",
        "Address this volume service exports volumes on (NBD over TLS-PSK) to compute hosts "
        "on other machines.",
    )
    nbd_for_local: bool = _opt(
        False,
        "Export over NBD even to a compute host on this machine (tests and benchmarks); "
        "otherwise such a host opens the volume's file directly.",
    )


@dataclass(frozen=True)
class ObjectSection:
    store_dir: str = _opt("", "Where object data lives; empty means <state_dir>/objects.")
    max_file_size: int = _opt(5368709122, "Largest single object, in bytes (Swift: 5 GiB + 2).")
    container_listing_limit: int = _opt(10000, "Most names one listing returns (Swift: 10000).")
    max_manifest_segments: int = _opt(1000, "Most segments in one static large object.")
    expirer_interval: int = _opt(
        10, "Seconds between passes of the reaper that deletes objects past X-Delete-At."
    )
    s3_domain: str = _opt(
        "",
        "Host name under which the S3 API also answers virtual-host-style requests "
        "(<bucket>.<s3_domain>); empty: path-style only (http://host:8080/<bucket>/<key>).",
    )
    auditor_interval: int = _opt(
        3600,
        "Seconds between passes of the auditor that re-reads every object and quarantines one "
        "whose bytes no longer match its checksum; 0: no auditor.",
    )


@dataclass(frozen=True)
class ComputeSection:
    virt_driver: str = _opt("fake", "Hypervisor driver of the compute agents: fake or libvirt.")
    fake_hosts: int = _opt(1, "How many fake compute hosts this process runs (fake driver).")
    fake_vcpus: int = _opt(16, "VCPUs each fake host reports.")
    fake_memory_mb: int = _opt(32768, "Memory (MB) each fake host reports.")
    fake_disk_gb: int = _opt(1024, "Disk (GB) each fake host reports.")
    fake_delays: str = _opt("", "Fake driver delays in seconds, e.g. 'spawn=2.0,destroy=0.5'.")
    fake_failures: str = _opt("", "Fake driver operations that fail, e.g. 'spawn,reboot'.")
    fake_netns_guests: bool = _opt(
        False,
        "Fake driver: make each instance with ports a network namespace plugged like a VM "
        "(a veth per port in its network's bridge, a DHCP client, a TCP service on port 7007 "
        "answering its hostname). Needs root and the network agent.",
    )
    build_timeout: int = _opt(600, "Seconds an instance may stay in BUILD before it is ERROR.")
    vif_plugging_timeout: int = _opt(
        300, "Seconds a build waits for network-vif-plugged of each port (Nova); 0: no wait."
    )
    reimage_timeout_per_gb: int = _opt(
        20,
        "Seconds per GB of the root volume a volume-backed rebuild waits for the volume "
        "service's volume-reimaged event (Nova's reimage_timeout_per_gb).",
    )
    vif_plugging_is_fatal: bool = _opt(
        True, "A port not plugged in time fails the build (Nova); false: boot on regardless."
    )
    service_down_time: int = _opt(60, "Seconds without a heartbeat before a host is down.")
    heartbeat_interval: int = _opt(10, "Seconds between compute agent heartbeats.")
    sync_power_state_interval: int = _opt(60, "Seconds between power-state sync passes.")
    max_attempts: int = _opt(3, "Hosts tried for one build before the instance goes ERROR.")
    allow_resize_to_same_host: bool = _opt(
        True,
        "Let a resize keep the instance on its host (Nova's default is False; DevStack sets "
        "True, as an all-in-one cloud has no other host).",
    )
    weigher: str = _opt("spread", "Placement strategy: spread (most free first) or pack.")
    max_placement_results: int = _opt(
        100, "Hosts passing the filters that are weighed per request (Nova: 1000)."
    )
    cpu_allocation_ratio: float = _opt(16.0, "VCPU overcommit ratio reported to placement.")
    ram_allocation_ratio: float = _opt(1.5, "MEMORY_MB overcommit ratio reported to placement.")
    disk_allocation_ratio: float = _opt(1.0, "DISK_GB overcommit ratio reported to placement.")
    reserved_host_memory_mb: int = _opt(512, "Memory (MB) kept back for the host.")
    default_availability_zone: str = _opt("nova", "Availability zone of hosts in no aggregate AZ.")
    test_hooks: bool = _opt(False, "Enable the admin-only fake-driver test hook API.")
    shelved_offload_time: int = _opt(
        0,
        "Seconds a shelved server keeps its host before it is offloaded (Nova): 0 offloads at "
        "once, -1 never (only shelveOffload does).",
    )
    shelved_poll_interval: int = _opt(
        3600, "Seconds between passes offloading servers shelved past shelved_offload_time."
    )
    reclaim_instance_interval: int = _opt(
        0,
        "Seconds a deleted server stays SOFT_DELETED (restorable) before a periodic pass "
        "deletes it (Nova); 0: DELETE deletes at once.",
    )


@dataclass(frozen=True)
class NetworkSection:
    tenant_network_type: str = _opt(
        "vxlan", "Type of the networks projects create: vxlan or local (Neutron's ML2 default)."
    )
    vni_ranges: str = _opt("1:1000", "VXLAN VNIs project networks get, as min:max (DevStack).")
    flat_networks: tuple[str, ...] = _opt(
        ("public",), "Physical network names a flat network may use (admin only)."
    )
    global_physnet_mtu: int = _opt(1500, "MTU of the underlay; VXLAN networks get 50 less.")
    default_availability_zone: str = _opt("nova", "Availability zone of networks and routers.")
    agent_down_time: int = _opt(75, "Seconds without a heartbeat before an agent is down.")
    quota_network: int = _opt(100, "Networks per project (Neutron default); -1 unlimited.")
    quota_subnet: int = _opt(100, "Subnets per project (Neutron default); -1 unlimited.")
    quota_subnetpool: int = _opt(
        -1, "Subnet pools per project (Neutron default: unlimited); -1 unlimited."
    )
    quota_port: int = _opt(500, "Ports per project (Neutron default); -1 unlimited.")
    quota_router: int = _opt(10, "Routers per project (Neutron default); -1 unlimited.")
    quota_floatingip: int = _opt(50, "Floating IPs per project (Neutron default); -1 unlimited.")
    quota_security_group: int = _opt(
        10, "Security groups per project (Neutron default); -1 unlimited."
    )
    quota_security_group_rule: int = _opt(
        100, "Security group rules per project (Neutron default); -1 unlimited."
    )


@dataclass(frozen=True)
class ConsoleSection:
    """The web consoles: Nova's [vnc], [serial_console] and [consoleauth] options in one place."""

    enabled: bool = _opt(True, "Serve the console proxy (noVNC and serial) in the compute process.")
    novnc_port: int = _opt(6080, "Port of the noVNC proxy (Nova's novncproxy_port).")
    serial_port: int = _opt(6083, "Port of the serial console proxy (Nova's serialproxy_port).")
    novncproxy_base_url: str = _opt(
        "",
        "Base of the noVNC URLs handed out; empty: http://<public_host>:<novnc_port>/vnc_lite.html.",
    )
    serialproxy_base_url: str = _opt(
        "", "Base of the serial console URLs handed out; empty: ws://<public_host>:<serial_port>/."
    )
    allowed_origins: tuple[str, ...] = _opt(
        (),
        "Origins (scheme://host[:port]) whose pages may open a console websocket, besides the "
        "proxy's own and the dashboard's.",
    )
    token_ttl: int = _opt(
        600, "Seconds a console token stays valid (Nova's [consoleauth] token_ttl)."
    )
    novnc_dir: str = _opt("/usr/share/novnc", "Where noVNC's files are (Debian's novnc package).")
    proxyclient_address: str = _opt(
        "127.0.0.1",
        "This compute host's address that the controller's console proxy reaches (Nova's [vnc] "
        "server_proxyclient_address): libvirt's VNC screens and the serial console relays "
        "listen there.",
    )
    relay_accept_timeout: float = _opt(
        10.0, "Seconds a serial console relay waits for the controller's proxy to connect."
    )


@dataclass(frozen=True)
class DashboardSection:
    assets_dir: str = _opt(
        "",
        "Where scripts/install-dashboard-assets.sh installed the pinned front-end libraries "
        "(htmx); empty means <python prefix>/share/ministack-dashboard.",
    )
    session_idle_seconds: int = _opt(3600, "A dashboard session unused this long is forgotten.")
    login_attempts: int = _opt(
        5, "Failed dashboard logins allowed per user name and per client address in a minute."
    )
    page_size: int = _opt(50, "Rows per page in the dashboard's tables.")


@dataclass(frozen=True)
class Settings:
    default: DefaultSection = field(default_factory=DefaultSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    messaging: MessagingSection = field(default_factory=MessagingSection)
    services: ServicesSection = field(default_factory=ServicesSection)
    identity: IdentitySection = field(default_factory=IdentitySection)
    security_compliance: SecurityComplianceSection = field(
        default_factory=SecurityComplianceSection
    )
    service_auth: ServiceAuthSection = field(default_factory=ServiceAuthSection)
    network_agent: NetworkAgentSection = field(default_factory=NetworkAgentSection)
    image: ImageSection = field(default_factory=ImageSection)
    libvirt: LibvirtSection = field(default_factory=LibvirtSection)
    compute: ComputeSection = field(default_factory=ComputeSection)
    network: NetworkSection = field(default_factory=NetworkSection)
    console: ConsoleSection = field(default_factory=ConsoleSection)
    volume: VolumeSection = field(default_factory=VolumeSection)
    object: ObjectSection = field(default_factory=ObjectSection)
    dashboard: DashboardSection = field(default_factory=DashboardSection)

    @property
    def state_path(self) -> Path:
        return Path(self.default.state_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_path / 'ministack.db'}"

    @property
    def hostname(self) -> str:
        return self.default.host or os.uname().nodename

    def port(self, service: str) -> int:
        port: int = getattr(self.services, f"{service}_port")
        return port

    def endpoint(self, service: str) -> str:
        return f"http://{self.default.public_host}:{self.port(service)}"

    @property
    def identity_url(self) -> str:
        """The Keystone v3 URL service users log in at: [identity] auth_url, else this host's."""
        return self.identity.auth_url.rstrip("/") or self.endpoint("identity") + "/v3"


class ConfigError(ValueError):
    """The configuration file or an environment variable holds a bad value."""


def _coerce(kind: Any, raw: Any, where: str) -> Any:
    text = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if text.startswith("tuple"):
            if isinstance(raw, str):
                return tuple(p.strip() for p in raw.split(",") if p.strip())
            return tuple(str(p) for p in raw)
        if text == "bool":
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if text == "int":
            return int(raw)
        if text == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: expected {text}, got {raw!r}") from exc


def config_path(env: dict[str, str] | None = None) -> Path:
    """The TOML file this process reads."""
    env = dict(os.environ) if env is None else env
    if env.get("MINISTACK_CONFIG"):
        return Path(env["MINISTACK_CONFIG"])
    state = env.get("MINISTACK_DEFAULT_STATE_DIR") or _default_state_dir()
    return Path(state) / "ministack.toml"


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read settings: defaults, then the TOML file (if it exists), then MINISTACK_* variables.

    Raises ConfigError naming the key for unknown keys or values of the wrong type.
    """
    env = dict(os.environ) if env is None else env
    path = path or config_path(env)
    data: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    sections: dict[str, Any] = {}
    for name, cls in _section_classes().items():
        values: dict[str, Any] = {}
        file_values = data.pop(name, {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, raw in file_values.items():
            if key not in fields:
                raise ConfigError(f"{path}: unknown key [{name}] {key}")
            values[key] = _coerce(fields[key].type, raw, f"{path} [{name}] {key}")
        for key, fld in fields.items():
            var = f"MINISTACK_{name}_{key}".upper()
            if var in env:
                values[key] = _coerce(fld.type, env[var], var)
        sections[name] = cls(**values)
    if data:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(data))}")
    return Settings(**sections)


def _section_classes() -> dict[str, type[Any]]:
    defaults = Settings()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(Settings)}


def reference() -> str:
    """The configuration reference as Markdown, generated from the declarations above."""
    lines = ["# Configuration reference", "", "Generated by `ministack config-doc`.", ""]
    lines += [
        "Each key may be set in the TOML file or as `MINISTACK_<SECTION>_<KEY>`.",
        "",
    ]
    for name, cls in _section_classes().items():
        lines += [f"## [{name}]", "", "| key | type | default | help |", "|---|---|---|---|"]
        for fld in dataclasses.fields(cls):
            default = fld.default
            lines.append(f"| {fld.name} | {fld.type} | `{default!r}` | {fld.metadata['help']} |")
        lines.append("")
    return "\n".join(lines)
