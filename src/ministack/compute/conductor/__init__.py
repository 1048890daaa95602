"""The conductor (RPC topic "conductor"): between the API and the hosts.

It asks the scheduler for hosts and hands each instance to its host's agent (`build`),
moves an instance to a new host for a resize (`resize`), and owns the timeouts of
transitional states (`reaper`): a build that outlives `build_timeout`, or whose host is
declared down, is ERROR with a fault; a delete on a down host is finished locally
(PROMISES 1, 2, 4). `manager.Conductor` is the endpoint the bus serves.
"""

from ministack.compute.conductor.manager import Conductor

__all__ = ["Conductor"]
