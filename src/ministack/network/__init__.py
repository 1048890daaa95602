"""Networking (Neutron v2.0): networks, subnets, ports and IPAM behind the API on port 9696;
a network agent per host wires the data plane (bridges, VXLAN, DHCP, metadata) over RPC."""
