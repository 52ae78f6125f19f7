"""etcdpyctl: an etcdctl v2 compatible control tool (entry point ``etcdpy.cli.ctl:main``).

Layout, from the command line down:

- ``app``       the click command tree, exit statuses (``run(argv) -> int``)
- ``clickgo``, ``argv``  etcdctl's argument handling (urfave/cli reordering, Go flags)
- ``cmd_*``     the commands: keys, watch/exec-watch, member, cluster-health, backup
- ``session``   global flags, endpoint/env selection, client creation and sync
- ``keys``, ``members``  the v2 keys and members API requests
- ``client``    the HTTP client: failover, timeouts, auth, TLS, ``--debug`` curl lines
- ``response``, ``output``, ``errors``  Go-exact decoding, printing and error wording
- ``backup``    the seam the storage layer fills: ``backup(data_dir, backup_dir, ...)``
"""
