"""The log set-up: each record formatted once, written to ministack.log and its service's log
by the writer thread, with its request id; a redirected stderr gets warnings only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ministack.common import context
from ministack.common import log as mlog


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "logs"
    mlog.stop()
    root = logging.getLogger("ministack")
    for handler in list(root.handlers):
        root.removeHandler(handler)


def test_a_record_reaches_its_files_once_with_its_request_id(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mlog.setup(logs, ["object", "identity"], stderr=True)
    token = context.request_id.set("req-test-1")
    try:
        logging.getLogger("ministack.object.access").info("GET %s %d", "/v1/AUTH_x/c/o", 200)
        logging.getLogger("ministack.object").warning("quarantined %s", "c/o")
    finally:
        context.request_id.reset(token)
    mlog.stop()  # writes out what is queued
    main = (logs / "ministack.log").read_text()
    service = (logs / "object.log").read_text()
    for text in (main, service):
        assert text.count("GET /v1/AUTH_x/c/o 200") == 1
        assert "[req-test-1] GET /v1/AUTH_x/c/o 200" in text
        assert text.count("quarantined c/o") == 1
    assert (logs / "identity.log").read_text() == ""
    err = capsys.readouterr().err  # not a terminal: warnings only
    assert "quarantined c/o" in err
    assert "GET /v1/AUTH_x/c/o" not in err
