"""The fixtures fault cases share with other suites: the distributed tests' deployments
(PostgreSQL, a broker, real `runwatch worker` and `runwatch serve` processes), for the
cases that kill workers and brokers, and the alerting tests' loopback HTTPS receiver."""

from tests.alerting.conftest import certificate, https_server
from tests.distributed.conftest import any_broker_cluster, cluster

__all__ = ["any_broker_cluster", "certificate", "cluster", "https_server"]
