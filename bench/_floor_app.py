"""The 5-line Flask app: the framework's floor under the same gunicorn settings (bench/server_load.py)."""
from flask import Flask

app = Flask(__name__)
app.get("/")(lambda: {"ok": True})
