"""Shared fixtures. Integration tests run on SQLite and on a throwaway PostgreSQL cluster."""

pytest_plugins = ["tests.support.pcsc_fixtures"]  # the PC/SC leg's pcscd (sets PCSCLITE_CSOCK_NAME at start)
