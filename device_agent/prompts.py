"""Where each secret the CLI needs comes from: one source per secret, never one input for two.

Standard input may carry the patient's PIN (``--pin-stdin``), and the PIN goes
only to the card. So the staff password and the visual-check password come
from their own environment variables, else from a hidden prompt on the
terminal itself (``/dev/tty``) and never from standard input: ``getpass``
would quietly read standard input when there is no terminal, and a piped PIN
would then travel to the server as a password.
"""
from __future__ import annotations

import getpass
import os

STAFF_PASSWORD_ENV = "DEVICE_AGENT_PASSWORD"
VISUAL_PASSWORD_ENV = "DEVICE_AGENT_VISUAL_PASSWORD"


class SecretUnavailable(Exception):
    """No environment variable and no terminal to ask on: the secret cannot be had without stdin."""

    def __init__(self, what: str, env: str) -> None:
        super().__init__(what)
        self.what, self.env = what, env


def has_terminal() -> bool:
    """True when a hidden prompt can be shown on this process's terminal (not on standard input)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def secret(what: str, env: str) -> str:
    """The secret named ``what`` from ``$env``, else typed hidden at the terminal; SecretUnavailable otherwise."""
    value = os.environ.get(env, "")
    if value:
        return value
    if not has_terminal():
        raise SecretUnavailable(what, env)
    return getpass.getpass(f"{what}: ")
