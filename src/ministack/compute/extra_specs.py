"""Flavor extra-spec validation (compute microversion 2.86), as data: every extra spec Nova
knows, with the type and range of its value (Nova's nova/api/validation/extra_specs, Dalmatian
and later).

`validate(name, value)` is what POST /flavors/{id}/os-extra_specs and PUT .../{key} call from
2.86 on: a known spec with a value of the wrong type, outside its range, not matching its
pattern or not in its enum is 400; an unknown key inside a namespace Nova knows (``hw:foo``) is
400; a key without a namespace, or in a namespace Nova does not know (``acme:x``), is allowed.
A name may carry a parameter (``{num}``, a request group ``{group}``, a custom resource class
or trait). Standard resource classes and traits are os-resource-classes' and os-traits'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import os_resource_classes
import os_traits

from ministack.common import errors

CPU_MAP = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
GROUP = r"([a-zA-Z0-9_-]{1,64})?"
TRUE_FALSE = ("1", "t", "true", "on", "y", "yes", "0", "f", "false", "off", "n", "no")


@dataclass(frozen=True)
class Spec:
    """One known extra spec: its name (``{param}`` parts stand for `params`' patterns) and
    what its value must be: "str" (optionally a `pattern` or an `enum`), "int" (optionally
    `min`/`max`) or "bool" (oslo's strict spellings)."""

    name: str
    kind: str = "str"
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def regex(self) -> str:
        out = self.name
        for param, pattern in self.params.items():
            out = out.replace(f"{{{param}}}", f"(?P<{param}>{pattern})")
        return out


def _ints(names: str, low: int | None = None, high: int | None = None) -> list[Spec]:
    return [Spec(n, "int", min=low, max=high) for n in names.split()]


def _bools(names: str) -> list[Spec]:
    return [Spec(n, "bool") for n in names.split()]


def _enum(name: str, values: str) -> Spec:
    return Spec(name, enum=tuple(values.split()))


HW: list[Spec] = [
    *_bools(
        "hw:cpu_realtime hw:hide_hypervisor_id hw:locked_memory hw:boot_menu "
        "hw:vif_multiqueue_enabled hw:mem_encryption hw:pmu hw:virtio_packed_ring "
        "hw:ephemeral_encryption"
    ),
    Spec("hw:cpu_realtime_mask", pattern=r"(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
    Spec("hw:cpu_dedicated_mask", pattern=CPU_MAP),
    _enum("hw:cpu_policy", "dedicated shared mixed"),
    _enum("hw:cpu_thread_policy", "prefer isolate require"),
    _enum("hw:emulator_threads_policy", "isolate share"),
    Spec("hw:mem_page_size", pattern=r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
    *_ints(
        "hw:numa_nodes hw:cpu_sockets hw:cpu_cores hw:cpu_threads hw:cpu_max_sockets "
        "hw:cpu_max_cores hw:cpu_max_threads",
        low=1,
    ),
    Spec("hw:numa_cpus.{num}", pattern=CPU_MAP, params={"num": r"\d+"}),
    Spec("hw:numa_mem.{num}", "int", min=1, params={"num": r"\d+"}),
    _enum("hw:pci_numa_affinity_policy", "required preferred legacy socket"),
    _enum("hw:mem_encryption_model", "amd-sev amd-sev-es amd-sev-snp"),
    Spec("hw:pmem", pattern=r"([a-zA-Z0-9_]+(,)?)+"),
    *_ints("hw:serial_port_count", low=0),
    _enum("hw:tpm_model", "tpm-tis tpm-crb"),
    _enum("hw:tpm_version", "1.2 2.0"),
    _enum("hw:tpm_secret_security", "user host deployment"),
    _enum("hw:watchdog_action", "none pause poweroff reset disabled"),
    _enum("hw:viommu_model", "intel smmuv3 virtio auto"),
    _enum("hw:sound_model", "sb16 es1370 pcspk ac97 ich6 ich9 usb virtio"),
    _enum("hw:usb_model", "none nec-xhci qemu-xhci"),
    *_ints("hw:redirected_usb_ports", low=0, high=15),
    _enum("hw:ephemeral_encryption_format", "plain luks luksv2"),
]

QUOTA: list[Spec] = [
    spec
    for key in ("cpu", "memory", "disk_io", "vif")
    for spec in (
        Spec(f"quota:{key}_limit", "int", min=0),
        Spec(f"quota:{key}_reservation", "int"),
        _enum(f"quota:{key}_shares_level", "custom high normal low"),
        Spec(f"quota:{key}_shares_share", "int", min=0),
    )
] + [
    *_ints("quota:cpu_shares quota:cpu_period", low=0),
    Spec("quota:cpu_quota", "int"),
    *_ints(
        " ".join(
            f"quota:disk_{stat}_{metric}_sec"
            for stat in ("read", "write", "total")
            for metric in ("bytes", "iops")
        ),
        low=0,
    ),
    *_ints(
        " ".join(
            f"quota:vif_{way}_{metric}"
            for way in ("inbound", "outbound")
            for metric in ("average", "peak", "burst")
        ),
        low=0,
    ),
]

_CAPABILITIES = (
    "id uuid service_id host vcpus memory_mb local_gb vcpus_used memory_mb_used local_gb_used "
    "hypervisor_type hypervisor_version hypervisor_hostname free_ram_mb free_disk_gb "
    "current_workload running_vms disk_available_least host_ip mapped cpu_allocation_ratio "
    "ram_allocation_ratio disk_allocation_ratio total_usable_ram_mb total_usable_disk_gb "
    "disk_mb_used free_disk_mb vcpus_total num_instances num_io_ops failed_builds aggregates "
    "cell_uuid updated"
)
_CAPABILITY_TREES = (
    "cpu_info metrics stats numa_topology supported_hv_specs pci_device_pools nodename "
    "pci_stats supported_instances limits instances"
)

OTHER: list[Spec] = [
    *_bools("hw_rng:allowed hide_hypervisor_id"),
    *_ints("hw_rng:rate_bytes hw_rng:rate_period hw_video:ram_max_mb", low=0),
    _enum("os:secure_boot", "disabled required"),
    _enum("group_policy", "isolate none"),
    Spec("accel:device_profile"),
    Spec("pci_passthrough:alias", pattern=r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
    Spec("vmware:hw_version"),
    Spec("vmware:storage_policy"),
    Spec("aggregate_instance_extra_specs:{key}", params={"key": ".+"}),
    *[Spec(f"capabilities:{name}") for name in _CAPABILITIES.split()],
    *[
        Spec(f"capabilities:{name}{{filter}}", params={"filter": r"(:\w+)*"})
        for name in _CAPABILITY_TREES.split()
    ],
    *[
        Spec(f"resources{{group}}:{rc}", "int", params={"group": GROUP})
        for rc in os_resource_classes.STANDARDS
    ],
    Spec(
        "resources{group}:CUSTOM_{resource}",
        "int",
        params={"group": GROUP, "resource": "[A-Z0-9_]+"},
    ),
    *[
        Spec(f"trait{{group}}:{trait}", enum=("required", "forbidden"), params={"group": GROUP})
        for trait in os_traits.get_traits()
    ],
    Spec(
        "trait{group}:CUSTOM_{trait}",
        enum=("required", "forbidden"),
        params={"group": GROUP, "trait": "[A-Z0-9_]+"},
    ),
]

SPECS: tuple[Spec, ...] = (*HW, *QUOTA, *OTHER)
BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS if not s.params}
_COMPILED: list[tuple[re.Pattern[str], Spec]] = [(re.compile(s.regex), s) for s in SPECS]
# A namespace is known when some spec's name has one (a regex too: `resources{group}`).
NAMESPACES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p) for p in dict.fromkeys(s.regex.split(":", 1)[0] for s in SPECS if ":" in s.name)
)


def _invalid(message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Validation failed; {message}")


def _check_value(spec: Spec, value: str) -> None:
    if spec.kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise _invalid(f"'{value}' is not a valid integer value.") from None
        if spec.max is not None and number > spec.max:
            raise _invalid(f"'{value}' is greater than the max value of '{spec.max}'.")
        if spec.min is not None and number < spec.min:
            raise _invalid(f"'{value}' is less than the min value of '{spec.min}'.")
    elif spec.kind == "bool":
        if value.strip().lower() not in TRUE_FALSE:
            raise _invalid(f"'{value}' is not a valid boolean-like value.")
    elif spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise _invalid(f"'{value}' is not of the format '{spec.pattern}'.")
    elif spec.enum and value not in spec.enum:
        raise _invalid(f"'{value}' is not one of: {', '.join(spec.enum)}.")


def validate(name: str, value: str) -> None:
    """400 (Nova's message) when `name` is a known spec with a bad value, or an unknown name
    in a known namespace; otherwise nothing."""
    spec = BY_NAME.get(name)
    if spec is None:
        spec = next((s for regex, s in _COMPILED if regex.fullmatch(name)), None)
    if spec is not None:
        _check_value(spec, value)
        return
    if ":" not in name:
        return
    namespace = name.split(":", 1)[0]
    if any(ns.fullmatch(namespace) for ns in NAMESPACES):
        raise _invalid(f"extra spec '{name}' does not appear to be a valid extra spec.")
