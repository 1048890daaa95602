"""The network agent: one per host, it keeps the host's data plane (bridges, VXLAN, DHCP,
metadata) equal to what the database says. Started by `runner.start_agent` from the network
service; `agent.NetworkAgent` is its RPC endpoint (topic "network-agent")."""
