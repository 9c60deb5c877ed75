"""The distributed tests' deployments (PostgreSQL, a broker, real `runwatch worker` and
`runwatch serve` processes), for the fault cases that kill workers and brokers."""

from tests.distributed.conftest import any_broker_cluster, cluster

__all__ = ["any_broker_cluster", "cluster"]
