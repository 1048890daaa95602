"""The Linux data plane of one host, over netlink (pyroute2): namespaces, bridges, veth pairs,
VXLAN devices and their forwarding entries, dnsmasq processes and the metadata listeners.

Every function here is idempotent (`ensure_*` makes or fixes, `remove_*` succeeds when the
object is already gone) and touches only objects named with the agent's prefixes, so the host's
own interfaces are never changed. The reconciler (`agent/reconcile.py`) is the only caller.
"""
