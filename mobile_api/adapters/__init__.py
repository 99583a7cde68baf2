"""Adapters: the database, the national system (OQS) and the JPKI trust check."""
