"""What the two HTTP front ends (``api/`` and ``console/``) render the same way: QR codes, the activation URI,
page headers, public URLs and downloads, the batch results' tables. Beside the API, not inside it, so the
console needs nothing of the API's internals (docs/architecture.md; tests/unit/mobile_api/test_layers.py)."""
