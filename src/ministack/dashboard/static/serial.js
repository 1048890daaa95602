// The serial console page: xterm.js on the websocket the compute API handed out (the proxy
// relays the guest's serial port byte for byte). Served as a file: the CSP allows no inline script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const box = document.getElementById("serial-terminal");
  const status = document.getElementById("serial-status");
  if (!box || typeof Terminal === "undefined") { return; }
  const term = new Terminal({ convertEol: false, cursorBlink: true, rows: 30, cols: 100 });
  term.open(box);
  const ws = new WebSocket(box.dataset.url, ["binary"]);
  ws.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  ws.onopen = function () { status.textContent = "Connected"; term.focus(); };
  ws.onclose = function () { status.textContent = "Disconnected"; };
  ws.onmessage = function (event) {
    const data = event.data instanceof ArrayBuffer ? new Uint8Array(event.data) : event.data;
    term.write(data);
  };
  term.onData(function (text) {
    if (ws.readyState === WebSocket.OPEN) { ws.send(encoder.encode(text)); }
  });
  window.ministackTerminal = term;  // tests read the screen's text through it
});
