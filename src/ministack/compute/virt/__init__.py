"""Virt drivers: the small interface between the compute agent and a hypervisor."""
