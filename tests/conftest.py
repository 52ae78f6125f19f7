"""Fixtures every test directory may use: process groups killed by PID at the end."""

from tests.procs import module_procs, procs, session_procs  # noqa: F401  (fixtures)
