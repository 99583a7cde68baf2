"""Card simulation: the card side of the exchange, for tests, benchmarks, the sandbox and offline demos.

``virtual_card`` (the JPKI card's APDU side) <- ``iso_dep`` (ISO/IEC 14443-4 PICC block protocol)
<- ``nfc_virtual`` (an nfcpy reader driver with the card in its field, and ``virtual_session``).
``testing`` makes throwaway key material; ``card_files`` loads a card issued by the server sandbox.

Nothing on the production path (``device_agent.card`` and the agent) imports this package at import
time: only ``device_agent.card_source`` does, lazily, when the user asks for a virtual card.
Simulation imports production (the APDU constants, the guard's file ids), never the other way round.
"""
