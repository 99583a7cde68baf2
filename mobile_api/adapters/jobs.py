"""Background jobs on Huey (docs/background-jobs.md): the one job runner of the server.

Huey is a maintained task queue that needs no extra server for the default setup: ``SqliteHuey``
keeps the queue in a SQLite file next to the database and runs embedded, as consumer threads
inside the app process. In production the same tasks run on PostgreSQL (Huey's SQL storage,
``FOR UPDATE SKIP LOCKED``, on the application database, tables ``job_queue_*``) with
``flask --app mobile_api jobs worker`` processes, as many as wanted.

What the queue does NOT hold is progress: a task is a pointer to state kept in the application's
own tables (a batch job's rows), so a worker killed halfway loses nothing. Huey pops a message
before running it, so a killed worker's message is gone; the ``recover`` task (periodic, and run
when a consumer starts) re-enqueues work whose lease ran out.

Registering a task::

    @runner.task("fallback.confirm")          # run on demand: runner.enqueue("fallback.confirm", record_id)
    def confirm(record_id: str) -> None: ...

    @runner.periodic("fallback.sweep", minute="*/10")   # cron-like, run by Huey's scheduler
    def sweep() -> None: ...

Tasks are registered once, in ``mobile_api/services/tasks.py``.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from huey import Huey, MemoryHuey, SqliteHuey, crontab
from huey.consumer import Consumer

log = logging.getLogger(__name__)


def build_huey(queue_url: str, *, name: str = "mobile-oqs") -> Huey:
    """``sqlite:///path`` → SqliteHuey; ``postgresql://…`` → Huey's SQL storage on PostgreSQL;
    ``memory://`` → MemoryHuey (one process only: for experiments, never for production)."""
    if queue_url.startswith("sqlite:///"):
        path = queue_url[len("sqlite:///"):]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteHuey(name=name, filename=path, results=False, timeout=10)
    if queue_url.startswith(("postgresql://", "postgresql+psycopg://")):
        return Huey(name=name, results=False, storage_class=_storage_class(), database=_peewee_postgres(queue_url))
    if queue_url == "memory://":
        return MemoryHuey(name=name, results=False)
    raise ValueError(f"unsupported JOBS_QUEUE_URL {queue_url!r} (sqlite:///…, postgresql://…, memory://)")


def _peewee_postgres(url: str) -> Any:
    """A small pool: peewee keeps one connection per thread, and request threads come and go (each returns
    its connection after enqueuing, ``QueueTables.enqueue``); ``close`` closes them all."""
    from playhouse.pool import PooledPostgresqlDatabase
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://", 1))
    dbname = params.pop("dbname")
    return PooledPostgresqlDatabase(dbname, autoconnect=True, max_connections=32, stale_timeout=300, **params)


def _storage_class() -> type:
    from huey.contrib.sql_huey import SqlStorage

    class QueueTables(SqlStorage):
        """Huey's SQL storage with its tables named ``job_queue_*`` beside the application's."""

        def create_models(self):
            from peewee import ModelIndex

            models = super().create_models()
            for model in models:
                model._meta.set_table_name("job_queue_" + model._meta.table_name)
                # An index added with ``add_index`` captured the old table ("task"): rebuild it on the new one.
                model._meta.indexes = [_on_model(model, index) if isinstance(index, ModelIndex) else index
                                       for index in model._meta.indexes]
            return models

        def enqueue(self, data, priority=None):
            """Give the connection back at once: the caller is usually a short-lived request thread."""
            try:
                super().enqueue(data, priority)
            finally:
                self.database.close()

        def close(self):
            """Every pooled connection, also those of consumer threads that have stopped."""
            self.database.close_all()

    return QueueTables


def _on_model(model: Any, index: Any) -> Any:
    """A peewee index rebuilt on ``model``: peewee has no public way to re-target one, so its own fields are read."""
    from peewee import ModelIndex

    return ModelIndex(model, index._expressions, unique=index._unique)


class _EmbeddedConsumer(Consumer):
    """Huey's consumer as threads inside the app process: it never installs signal handlers. It is started
    from a request, which in a gunicorn sync worker runs on the main thread; Huey's SIGTERM handler there
    replaced gunicorn's, and the worker then ignored SIGTERM (it would only stop Huey's own run loop)."""

    def _set_signal_handlers(self) -> None:
        pass


class JobRunner:
    """Register tasks, enqueue them, and run consumers (embedded threads or a worker process)."""

    def __init__(self, huey: Huey | Callable[[], Huey], *, embedded_workers: int = 0,
                 poll_max_seconds: float = 1.0) -> None:
        # Built on first use (a factory): the queue's storage may be a database that is not up or
        # not migrated yet when the app object is created, and most processes never enqueue.
        self._huey: Huey | None = huey if isinstance(huey, Huey) else None
        self._make_huey = None if isinstance(huey, Huey) else huey
        self._registrations: list[Callable[[Huey], None]] = []
        self.embedded_workers = embedded_workers
        self.poll_max_seconds = poll_max_seconds
        self._tasks: dict[str, Any] = {}
        self._names: set[str] = set()
        self._startup: list[Callable[[], None]] = []
        self._consumer: Consumer | None = None
        self._lock = threading.RLock()

    @property
    def huey(self) -> Huey:
        if self._huey is None:
            with self._lock:
                if self._huey is None:
                    assert self._make_huey is not None
                    huey = self._make_huey()
                    for register in self._registrations:
                        register(huey)
                    self._huey = huey
        return self._huey

    def _register(self, name: str, register: Callable[[Huey], Any]) -> None:
        if name in self._names:
            raise ValueError(f"task {name!r} is already registered")
        self._names.add(name)

        def apply(huey: Huey) -> None:
            self._tasks[name] = register(huey)

        self._registrations.append(apply)
        if self._huey is not None:
            apply(self._huey)

    # --- registering -----------------------------------------------------------------------------

    def task(self, name: str, *, retries: int = 0, retry_delay: int = 0) -> Callable[[Callable[..., Any]], Any]:
        """Register an on-demand task under a stable ``name`` (producers and workers agree on it)."""

        def decorator(func: Callable[..., Any]) -> Any:
            self._register(name, lambda huey: huey.task(name=name, retries=retries, retry_delay=retry_delay)(func))
            return func

        return decorator

    def periodic(self, name: str, *, minute: str = "*", hour: str = "*") -> Callable[[Callable[..., Any]], Any]:
        """Register a periodic task (crontab fields), run by the consumers' scheduler."""

        def decorator(func: Callable[..., Any]) -> Any:
            self._register(name, lambda huey: huey.periodic_task(crontab(minute=minute, hour=hour), name=name)(func))
            return func

        return decorator

    def on_start(self, func: Callable[[], None]) -> Callable[[], None]:
        """Run ``func`` once whenever a consumer starts (e.g. re-enqueue work a killed worker left)."""
        self._startup.append(func)
        return func

    @property
    def names(self) -> list[str]:
        return sorted(self._names)

    # --- using -----------------------------------------------------------------------------------

    def enqueue(self, name: str, *args: Any) -> None:
        """Queue a registered task; with embedded workers, make sure they run."""
        self.huey  # noqa: B018 - builds the queue and its tasks
        self._tasks[name](*args)
        self.ensure_embedded()

    def run_now(self, name: str, *args: Any) -> Any:
        """Call a registered task's function in this thread (tests, CLI maintenance)."""
        self.huey  # noqa: B018
        return self._tasks[name].call_local(*args)

    def consumer(self, *, workers: int = 1, periodic: bool = True) -> Consumer:
        """A Huey consumer over these tasks for a worker process (``flask jobs worker`` runs it in the
        foreground). Such a process runs no embedded consumer besides: what it enqueues, it runs itself."""
        self.embedded_workers = 0
        self._run_startup()
        return self._new_consumer(workers, periodic, embedded=False)

    def _new_consumer(self, workers: int, periodic: bool, *, embedded: bool = True) -> Consumer:
        kind = _EmbeddedConsumer if embedded else Consumer  # a worker process keeps Huey's SIGTERM/SIGINT
        return kind(self.huey, workers=workers, periodic=periodic, worker_type="thread", initial_delay=0.05,
                    backoff=1.5, max_delay=self.poll_max_seconds, check_worker_health=True)

    def _run_startup(self) -> None:
        for func in self._startup:
            try:
                func()
            except Exception:  # noqa: BLE001 - a failing recovery must not stop the worker from starting
                log.exception("job runner start-up hook failed")

    def ensure_embedded(self) -> None:
        """Start the embedded consumer threads once per process (``JOBS_EMBEDDED_WORKERS`` > 0).

        The start-up hooks run after the consumer is in place: they enqueue (``batch.recover``), and
        enqueueing calls this again, which must then find the consumer rather than start another (it once
        recursed, starting a consumer per level until a RecursionError)."""
        if self.embedded_workers <= 0 or self._consumer is not None:
            return
        with self._lock:
            if self._consumer is not None:
                return
            consumer = self._new_consumer(self.embedded_workers, True)
            self._consumer = consumer
            consumer.start()
        self._run_startup()

    def stop(self) -> None:
        """Stop the embedded consumer (finishing the task at hand) and close the queue's storage."""
        with self._lock:
            if self._consumer is not None:
                self._consumer.stop(graceful=True)
                self._consumer = None
        if self._huey is None:
            return
        close = getattr(self._huey.storage, "close", None)
        if close is not None:
            close()
