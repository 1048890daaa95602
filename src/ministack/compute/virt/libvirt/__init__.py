"""The libvirt virt driver: real QEMU/KVM guests through libvirtd (see driver.py)."""

from ministack.compute.virt.libvirt.driver import LibvirtDriver, LibvirtOptions

__all__ = ["LibvirtDriver", "LibvirtOptions"]
