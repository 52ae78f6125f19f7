"""The member: ``etcdserver.EtcdServer`` (the one door the API uses), ``applier`` (the pure
apply step), membership and ids, statistics, and ``run.run_member`` (the composition root
the daemon calls). Kept free of imports so the CLI can load ``server.config`` quickly.
"""
