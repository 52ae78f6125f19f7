"""Store path helpers: Go's ``path.Clean(path.Join("/", p))`` and the hidden-key rule."""

from __future__ import annotations


def clean_path(p: str) -> str:
    """Return ``p`` as an absolute, cleaned store path, exactly as etcd's v2 store cleans it.

    Duplicate slashes, ``.`` and ``..`` components and a trailing slash are removed; ``..``
    never climbs above the root.
    """
    # Almost every path reaching the store is already clean; recognize that without
    # splitting. "/." is a conservative test: it also sends "/.hidden" to the slow path.
    if p[:1] == "/" and p[-1] != "/" and "//" not in p and "/." not in p:
        return p
    out: list[str] = []
    for part in p.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def join(parent: str, name: str) -> str:
    """``path.Join(parent, name)`` for a clean ``parent`` and a single component ``name``."""
    return "/" + name if parent == "/" else parent + "/" + name


def is_hidden(watch_path: str, key: str) -> bool:
    """True when ``key`` is hidden from a watcher at ``watch_path`` (etcd ``isHidden``).

    A key is hidden when any component below the watched path starts with ``_``. A watch
    path deeper than the key (a watcher under a deleted directory) never hides it.
    """
    if len(watch_path) > len(key):
        return False
    rest = key[len(watch_path) :]
    return rest[:1] == "_" or "/_" in rest
