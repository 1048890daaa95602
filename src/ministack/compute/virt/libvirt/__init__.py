"""The libvirt virt driver: real QEMU/KVM guests through libvirtd (see driver.py)."""

from ministack.compute.virt.libvirt.connection import LibvirtOptions
from ministack.compute.virt.libvirt.driver import LibvirtDriver

__all__ = ["LibvirtDriver", "LibvirtOptions"]
