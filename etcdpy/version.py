"""Version strings reported by /version and --version."""

__version__ = "0.1.0"
# The etcd release whose v2 API and behaviour etcdpy reproduces.
ETCD_SERVER_VERSION = "2.3.8"
ETCD_CLUSTER_VERSION = "2.3.0"
