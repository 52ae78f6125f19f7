"""etcdpy: an etcd 2.x compatible distributed key-value server."""

from etcdpy.version import __version__

__all__ = ["__version__"]
