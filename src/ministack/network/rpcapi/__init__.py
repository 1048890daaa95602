"""Networking's typed RPC APIs, one module per topic: the only code that names a remote method.

- `agent`: the network service tells every host's network agent that networks or ports
  changed (fanout; each agent re-derives its host's data plane from the database);
- `server`: a host's network agent tells the network service what it did (port wired up or
  failed), and reports in as an agent.
"""
