"""Shared test helpers (throwaway PostgreSQL cluster, fixtures)."""
