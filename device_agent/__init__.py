"""Device agent: runs on the registered device next to the NFC reader and talks to the My Number card."""
