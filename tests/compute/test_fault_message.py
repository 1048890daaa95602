"""PROMISES 22: what a non-admin reads in a fault has no traceback, host path or host name."""

from __future__ import annotations

from ministack.compute.api.views import public_message


def test_public_message_drops_tracebacks_paths_and_hosts() -> None:
    raw = (
        "Exceeded max scheduling attempts 3. Last exception: qemu-img: Could not open "
        "'/var/lib/ministack/instances/abc/disk': on node-2.example\n"
        'Traceback (most recent call last):\n  File "/usr/lib/x.py", line 1'
    )
    text = public_message(raw, ["node-2.example", None])
    assert "Traceback" not in text and "/var/lib" not in text and "x.py" not in text
    assert "node-2.example" not in text and "'<path>': on <host>" in text
    assert public_message("see http://example.com/a/b on host10", ["host1"]).endswith("host10")
