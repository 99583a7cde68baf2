"""Use cases. Each takes the runtime (clock, unit of work, gateways) and commits explicitly."""
