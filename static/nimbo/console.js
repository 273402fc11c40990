// The VM page's interactive console: xterm.js bridged over /ws/vms/<uuid>/console/ to a shell in the guest.
(function () {
  const box = document.getElementById("vm-terminal");
  if (!box || !window.Terminal) return;
  const term = new Terminal({ cols: 100, rows: 28, fontSize: 13, convertEol: false, cursorBlink: true });
  term.open(box);
  window.nimboTerminal = term;
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(proto + location.host + box.dataset.url);
  ws.onopen = () => {
    box.dataset.connected = "1";
    ws.send(JSON.stringify({ resize: [term.cols, term.rows] }));
    term.focus();
  };
  ws.onmessage = (m) => term.write(m.data);
  ws.onclose = (e) => { box.dataset.connected = "0"; box.dataset.closeCode = String(e.code); term.write("\r\n[disconnected]\r\n"); };
  term.onData((d) => { if (ws.readyState === 1) ws.send(d); });
})();
