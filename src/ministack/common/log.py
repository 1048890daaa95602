"""Logging: one set-up per process, a log file per service, the request id on every line.

Logger names are ``ministack.<service>[.<part>]``; records of ``ministack.identity.*`` go to
``<state>/logs/identity.log`` and every record also goes to ``ministack.log``. With `stderr`
(``ministack up --foreground``) a terminal sees every record too; a redirected stderr (the
background ``console.log``) gets warnings and errors only.

A record costs the event loop little: the only handler on the ``ministack`` logger is a
`QueueHandler` that stamps the request id (a context variable, so it must be read on the
emitting thread) and freezes the message; a writer thread drains the queue every
FLUSH_SECONDS, formats each record once and writes it to its files, so file writes never
block a request and queueing a record wakes no thread.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import threading
from pathlib import Path

from ministack.common import context, files

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# what FORMAT does not show is not gathered per record (the logging docs' "Optimization")
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging._srcfile = None  # no caller lookup: FORMAT names no file or line

FLUSH_SECONDS = 0.05  # how long a record may wait in the queue before the writer takes it
_listener: _Writer | None = None


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.current_request_id() or "-"
        return True


class PrefixFilter(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == self.prefix or record.name.startswith(self.prefix + ".")


class OnceFormatter(logging.Formatter):
    """Formats a record once however many files it is written to."""

    def format(self, record: logging.LogRecord) -> str:
        line: str | None = getattr(record, "formatted_line", None)
        if line is None:
            line = super().format(record)
            record.formatted_line = line
        return line


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record to the listener as it is: the message is frozen here (its arguments
    may change after the call), the formatting and any traceback are left to the thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        return record


class _Writer:
    """The thread that writes queued records to their handlers. It drains the queue every
    FLUSH_SECONDS rather than waiting on it, so queueing a record never wakes a thread: the
    event loop pays a queue append per record, not a thread switch."""

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord], *outputs: logging.Handler):
        self.records = records
        self.handlers = outputs
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write out what is queued and end the thread."""
        self._done.set()
        self._thread.join()
        self._drain()

    def _run(self) -> None:
        while not self._done.wait(FLUSH_SECONDS):
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                return
            for handler in self.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)


def setup(log_dir: Path, services: list[str], *, debug: bool = False, stderr: bool = False) -> None:
    """Configure the `ministack` logger tree. Safe to call again (replaces handlers)."""
    global _listener
    files.private_dir(log_dir)
    root = logging.getLogger("ministack")
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    stop()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = OnceFormatter(FORMAT)
    outputs: list[logging.Handler] = []

    def add(handler: logging.Handler, prefix: str | None = None) -> None:
        handler.setFormatter(formatter)
        if prefix:
            handler.addFilter(PrefixFilter(prefix))
        outputs.append(handler)

    def log_file(name: str) -> logging.Handler:
        path = log_dir / f"{name}.log"
        files.touch_private(path)  # 0600 before the handler appends to it: logs name tenants
        return logging.handlers.WatchedFileHandler(path)

    add(log_file("ministack"))
    for name in services:
        add(log_file(name), f"ministack.{name}")
    if stderr:
        console = logging.StreamHandler()
        if not sys.stderr.isatty():
            # `ministack up` sends it to logs/console.log: a third copy of every line there
            # would cost each request a write; start-up failures and errors still land in it
            console.setLevel(logging.WARNING)
        add(console)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    enqueue = _Enqueue(records)
    enqueue.addFilter(RequestIdFilter())
    root.addHandler(enqueue)
    _listener = _Writer(records, *outputs)
    _listener.start()


@atexit.register
def stop() -> None:
    """Write out every queued record and stop the writer thread (idempotent)."""
    global _listener
    listener, _listener = _listener, None
    if listener is None:
        return
    listener.stop()
    for handler in listener.handlers:
        handler.close()
