"""gunicorn settings for the API (several stateless workers; state is in PostgreSQL).

Worker model, by measurement on a 2-core machine with durable commits (docs/performance.md, "Worker model";
bench/README.md): gthread, cores + 1 workers × 2 threads. Every medical view and verification ends in a
durable commit (its audit row) and waits on PostgreSQL and OQS round trips; a sync worker sits idle through
each wait, so the views were commit-bound. Two threads per worker overlap one request's waits with another's
CPU; more threads than that only queue on the GIL (4 and 8 threads spent more CPU per operation and had the
longest tails). The OQS client's short timeouts and circuit breaker (adapters/oqs_http.py) still bound how long
a slow national system holds a thread. Override with WEB_CONCURRENCY, GUNICORN_WORKER_CLASS and
GUNICORN_THREADS (scripts/prod_local.py and bench/server_load.py read their defaults from here).
"""
import logging
import multiprocessing
import os

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 2))
timeout = 30  # OQS answers within seconds; a stuck call should not hold a worker forever
graceful_timeout = 20
keepalive = 5  # behind the proxy, connections are reused
# No gunicorn access log: it prints the raw path and query string. The app logs each request as JSON with the
# route template and the request id instead (mobile_api/observability.py).
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")



class AccessLogOnlyWhenLogged(Logger):
    """gunicorn's logger, minus the access line nobody reads: with ``logconfig_dict`` set, gunicorn builds every
    request's access-log fields (headers, the time formatted, the status) and then hands them to a logger that
    drops them, since ``gunicorn.access`` is at WARNING below: ~15 µs per request, 1 % of a verification's CPU
    under load (docs/performance.md, "Third pass"). The fields are built when the line would be written."""

    def access(self, resp, req, environ, request_time):  # noqa: ANN001, ANN201 - gunicorn's signature
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)


logger_class = AccessLogOnlyWhenLogged
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
