"""Card path of the device agent, layered bottom-up.

``apdu`` (ISO/IEC 7816-4 encoding and status words) -> ``guard`` (privacy allow-list on every
outgoing APDU) -> ``jpki`` (JPKI card commands) -> ``session`` (the flow-facing API).
``nfc_transport`` adapts a real nfcpy Type 4 tag, ``pcsc_transport`` a PC/SC reader (pyscard), both below
the guard; ``readers`` finds the readers and chooses one. The card simulators (for tests, benchmarks and
demos) live apart in ``device_agent.card.sim``, which nothing here imports.

Submodules are imported explicitly (``from device_agent.card.session import CardSession``) so that
nothing here pulls in nfcpy or pyscard unless the caller needs it.
"""
