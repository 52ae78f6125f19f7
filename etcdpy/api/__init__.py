"""The v2 client HTTP API (aiohttp): turns HTTP into v2 requests for the server and back.

- ``app.ClientAPI``: routing as Go's ServeMux does it, CORS; ``make_server()`` for aiohttp.
- ``keys``, ``members``, ``basic``: the handlers (``/v2/keys``, ``/v2/members``, stats,
  ``/version``, ``/health``, ``/v2/machines``).
- ``keyrequest``: form -> ``Request`` with etcd's checks; ``memberrequest``: member bodies.
- ``goform``, ``gojson``, ``gojsonscan``: Go's parsing and JSON rules, byte for byte.

Nothing here knows Raft: every keys request goes through ``EtcdServer.do``.
"""
