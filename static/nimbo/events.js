// Live notifications on every portal page: "<action> finished" / "<action> failed: <reason>".
// Websocket /ws/events/ first; if it cannot stay open, poll the recent-events endpoint instead.
(function () {
  const script = document.currentScript;
  const eventsUrl = script.dataset.eventsUrl;
  const jobUrl = script.dataset.jobUrl;
  const box = () => document.getElementById("nimbo-toasts");
  const shown = new Set();

  function toast(event) {
    const job = event.job || {};
    const done = job.state === "succeeded" || job.state === "failed";
    document.dispatchEvent(new CustomEvent("nimbo:event", { detail: event }));
    if (!done) return;  // progress is shown on the job's own page; toasts announce the end
    const key = job.uuid + job.state;
    if (shown.has(key) || !box()) return;
    shown.add(key);
    const el = document.createElement("div");
    el.className = "nimbo-toast " + job.state;
    el.setAttribute("role", "status");
    const link = document.createElement("a");
    link.href = jobUrl.replace("00000000-0000-0000-0000-000000000000", job.uuid);
    link.textContent = event.message;
    el.appendChild(link);
    box().appendChild(el);
    setTimeout(() => el.remove(), job.state === "failed" ? 15000 : 6000);
  }

  let since = new Date().toISOString();
  let polling = null;
  function poll() {
    fetch(eventsUrl + "?since=" + encodeURIComponent(since), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => { (data.events || []).forEach(toast); if (data.now) since = data.now; })
      .catch(() => {});
  }
  function startPolling() { if (!polling) polling = setInterval(poll, 3000); }

  let failures = 0;
  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/ws/events/");
    ws.onopen = () => { failures = 0; if (polling) { clearInterval(polling); polling = null; } document.body.dataset.nimboLive = "ws"; };
    ws.onmessage = (m) => toast(JSON.parse(m.data));
    ws.onclose = () => {
      document.body.dataset.nimboLive = "poll";
      failures += 1;
      startPolling();
      setTimeout(connect, Math.min(30000, 1000 * 2 ** failures));
    };
  }
  connect();
})();
