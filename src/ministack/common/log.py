"""Logging: one set-up per process, a log file per service, the request id on every line.

Logger names are ``ministack.<service>[.<part>]``; records of ``ministack.identity.*`` go to
``<state>/logs/identity.log`` and every record also goes to ``ministack.log``.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from ministack.common import context, files

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


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


def setup(log_dir: Path, services: list[str], *, debug: bool = False, stderr: bool = False) -> None:
    """Configure the `ministack` logger tree. Safe to call again (replaces handlers)."""
    files.private_dir(log_dir)
    root = logging.getLogger("ministack")
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(FORMAT)
    ids = RequestIdFilter()

    def add(handler: logging.Handler, prefix: str | None = None) -> None:
        handler.setFormatter(formatter)
        handler.addFilter(ids)
        if prefix:
            handler.addFilter(PrefixFilter(prefix))
        root.addHandler(handler)

    def log_file(name: str) -> logging.Handler:
        path = log_dir / f"{name}.log"
        files.touch_private(path)  # 0600 before the handler appends to it: logs name tenants
        return logging.handlers.WatchedFileHandler(path)

    add(log_file("ministack"))
    for name in services:
        add(log_file(name), f"ministack.{name}")
    if stderr:
        add(logging.StreamHandler())
