"""The host agent: code that runs ON a hypervisor host, as an RQ worker on the host's own queue.

Never imports Django: it receives plain data and returns plain data. Each module registers its
operations with `workers.host.ops.operation` (network.py: bridges; others add storage, firewall,
guests, router); `workers.host.agent` serves them.
"""
