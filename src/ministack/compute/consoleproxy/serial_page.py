"""The serial console page: a plain terminal of our own (no front-end library), served by the
serial proxy at `/serial.html?token=...`. It opens the websocket `/?token=...` on the same
origin, shows what the guest prints (escape sequences dropped, backspace and carriage return
honoured) and sends what is typed. Script and style are separate responses, so the page
runs under a strict Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Serial console</title>
<style>
body { margin: 0; background: #111; color: #ddd; font: 14px/1.3 monospace; }
#status { padding: 4px 8px; background: #333; color: #fff; }
#screen { margin: 0; padding: 8px; white-space: pre-wrap; word-break: break-all;
          min-height: 90vh; outline: none; }
</style>
<script src="serial.js" defer></script>
</head>
<body>
<div id="status" role="status">Connecting</div>
<pre id="screen" tabindex="0" aria-label="serial console"></pre>
</body>
</html>
"""

SCRIPT = r"""
"use strict";
(function () {
  const status = document.getElementById("status");
  const screen = document.getElementById("screen");
  const token = new URLSearchParams(location.search).get("token") || "";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + "/?token=" + encodeURIComponent(token));
  ws.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const MAX = 200000;
  let text = "";
  function show(chunk) {
    chunk = chunk.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b./g, "");
    for (const ch of chunk) {
      if (ch === "\b") { text = text.slice(0, -1); }
      else if (ch === "\r" || ch === "\x07") { continue; }
      else { text += ch; }
    }
    if (text.length > MAX) { text = text.slice(-MAX); }
    screen.textContent = text;
    window.scrollTo(0, document.body.scrollHeight);
  }
  ws.onopen = function () { status.textContent = "Connected"; screen.focus(); };
  ws.onclose = function () { status.textContent = "Disconnected"; };
  ws.onmessage = function (event) { show(decoder.decode(event.data, { stream: true })); };
  const KEYS = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b",
                 ArrowUp: "\x1b[A", ArrowDown: "\x1b[B", ArrowRight: "\x1b[C",
                 ArrowLeft: "\x1b[D" };
  screen.addEventListener("keydown", function (event) {
    let data = KEYS[event.key];
    if (!data && event.ctrlKey && event.key.length === 1) {
      data = String.fromCharCode(event.key.toUpperCase().charCodeAt(0) & 0x1f);
    } else if (!data && event.key.length === 1 && !event.altKey && !event.metaKey) {
      data = event.key;
    }
    if (data && ws.readyState === WebSocket.OPEN) {
      ws.send(encoder.encode(data));
      event.preventDefault();
    }
  });
  screen.addEventListener("paste", function (event) {
    const pasted = event.clipboardData.getData("text");
    if (pasted && ws.readyState === WebSocket.OPEN) { ws.send(encoder.encode(pasted)); }
    event.preventDefault();
  });
})();
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"content-security-policy": CSP})


async def script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")
