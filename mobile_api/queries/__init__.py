"""The read side (docs/architecture.md, "Read side"): one select per screen or response into frozen read
models, each rule (the consent window's report, the notices, the renewal alert) computed once per response.

Queries read with SQLAlchemy Core statements over the adapters' tables (no ORM unit of work, no identity map)
and import the domain and the adapters only; the API and the console serialise what they return.
"""
