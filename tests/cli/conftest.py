"""Fixtures for the command-line tests: the shared member harness."""

from tests.procs import procs  # noqa: F401  (re-exported as a fixture for tests/cli)
