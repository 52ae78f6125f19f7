"""Random keys and values: both tools must address the same key and print it identically.

The reference etcdctl writes each key once; then both tools read it back in every -o
mode (and list it), so outputs must match byte for byte without any normalization.
More examples: ETCDPY_CTL_EXAMPLES=200.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ctl.ctl_harness import REF, both, run

EXAMPLES = int(os.environ.get("ETCDPY_CTL_EXAMPLES", "15"))
_counter = itertools.count()

# argv cannot carry NUL or lone surrogates; everything else is fair game.
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
VALUES = st.text(TEXT, max_size=24)
SEGMENTS = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(segment=SEGMENTS, value=VALUES)
def test_random_keys_and_values_print_the_same(endpoint: str, segment: str, value: str) -> None:
    ep = ["--endpoints", endpoint]
    key = f"/random-{next(_counter)}/{segment}"
    written = run(REF, [*ep, "set", "--", key, value])
    assert written.rc == 0, written
    for args in (
        ["get", key],
        ["-o", "extended", "get", key],
        ["-o", "json", "get", key],
        ["ls", "-r", key.rsplit("/", 1)[0]],
        ["-o", "json", "ls", key.rsplit("/", 1)[0]],
    ):
        ref, ours = both([*ep, *args])
        assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err), args
