"""The libvirt virt driver: real QEMU/KVM guests through libvirtd (see driver.py)."""
