"""Shared fixtures. Integration tests run on SQLite and on a throwaway PostgreSQL cluster."""
