"""The domain core: rules of mobile online qualification confirmation.

Nothing in this package imports Flask or SQLAlchemy; it is plain Python that
unit tests exercise without a database. See ``docs/rules.md``.
"""
