"""The embedded OQS sandbox: a test JPKI CA, fictitious personas and a gateway.

The real national system is reachable only on a closed network; this package
stands in for it so the whole flow (card, signature, chain, qualification,
medical information) runs anywhere. See docs/sandbox.md.
"""
