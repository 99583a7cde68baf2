"""Run the touch UI on this device only: werkzeug bound to 127.0.0.1, never to a network address."""
from __future__ import annotations

from werkzeug.serving import make_server

from device_agent.agent import Agent, CardSource
from device_agent.ui.app import create_ui_app

HOST = "127.0.0.1"


def serve(agent: Agent, card_source: CardSource, port: int = 8765) -> None:
    """Serve until interrupted. One thread per request; the card itself is used under a lock."""
    server = make_server(HOST, port, create_ui_app(agent, card_source), threaded=True)
    print(f"タッチ操作画面: http://{HOST}:{server.server_port}/ （終了は Ctrl+C）", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
