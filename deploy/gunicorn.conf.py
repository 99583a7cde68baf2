"""gunicorn settings for the API (several stateless workers; state is in PostgreSQL).

Worker model, by measurement on a 2-core machine (bench/README.md): sync workers, about one per core plus
one, beat gthread (the threads of a worker fight over the GIL on CPU-bound requests). The OQS client's short
timeouts and circuit breaker (adapters/oqs_http.py) keep a slow national system from holding sync workers.
Override with WEB_CONCURRENCY, GUNICORN_WORKER_CLASS and GUNICORN_THREADS.
"""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = 30  # OQS answers within seconds; a stuck call should not hold a worker forever
graceful_timeout = 20
keepalive = 5  # behind the proxy, connections are reused
# No gunicorn access log: it prints the raw path and query string. The app logs each request as JSON with the
# route template and the request id instead (mobile_api/observability.py).
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mobile_api.observability.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"level": os.environ.get("LOG_LEVEL", "INFO"), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}


def child_exit(server, worker):  # noqa: ANN001 - gunicorn hook
    """A dead worker's live gauges leave the multiprocess metrics (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
