"""The touch UI the agent serves on 127.0.0.1 for the nurse's tablet or the therapist's phone."""
from device_agent.ui.app import create_ui_app
from device_agent.ui.server import serve

__all__ = ["create_ui_app", "serve"]
