"""Path cleaning (Go's path.Clean(path.Join("/", p))) and the hidden-key rule."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdpy.store.keypath import clean_path, is_hidden, join


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("a", "/a"),
        ("/a", "/a"),
        ("/a/", "/a"),
        ("//a//b//", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/../../a", "/a"),
        ("/a/b/..", "/a"),
        ("/a/.", "/a"),
        ("/.hidden", "/.hidden"),
        ("/a/..b", "/a/..b"),
        ("/1/foo", "/1/foo"),
        ("/1/_x/", "/1/_x"),
    ],
)
def test_clean_path_matches_go(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


@given(st.text(alphabet="/._ab", max_size=20))
def test_clean_path_agrees_with_posix_normpath_on_absolute_paths(raw: str) -> None:
    # normpath differs from Go only in keeping a leading "//"; strip that case.
    expected = posixpath.normpath("/" + raw.lstrip("/"))
    assert clean_path(raw) == expected
    assert clean_path(clean_path(raw)) == clean_path(raw)


def test_join() -> None:
    assert join("/", "a") == "/a"
    assert join("/1/a", "b") == "/1/a/b"


@pytest.mark.parametrize(
    ("watch", "key", "hidden"),
    [
        ("/1/foo", "/1/foo/_bar", True),
        ("/1/foo", "/1/foo/bar", False),
        ("/", "/1/_x", True),
        ("/", "/_x", True),
        ("/1", "/1/_d/x", True),
        ("/1/_d", "/1/_d/x", False),
        ("/1/foo", "/1/foo", False),
        # A watcher deeper than the key (under a removed directory) is never hidden from.
        ("/1/foo/_bar", "/1/foo", False),
        ("/1/a", "/1/a/b_c", False),
    ],
)
def test_is_hidden(watch: str, key: str, hidden: bool) -> None:
    assert is_hidden(watch, key) is hidden
