// Live notifications on every portal page: "<action> finished" / "<action> failed: <reason>".
// Websocket /ws/events/ first; while it is down, poll the recent-events endpoint instead.
// A call that ends while the browser is between two pages (a form POST and its redirect) is
// caught by one poll at page load, from the last end time this tab has seen.
(function () {
  const script = document.currentScript;
  const eventsUrl = script.dataset.eventsUrl;
  const jobUrl = script.dataset.jobUrl;
  const box = () => document.getElementById("nimbo-toasts");
  const shown = new Set();
  // A page being left (a form was submitted) must not consume events: the next page shows them.
  let leaving = false;
  addEventListener("beforeunload", () => { leaving = true; });
  // The tab's first page starts from the time it was rendered; later pages go on from there.
  let since = sessionStorage.getItem("nimboSince") || script.dataset.now;
  sessionStorage.setItem("nimboSince", since);

  function remember(job) {
    if (job.finished && Date.parse(job.finished) > Date.parse(since)) {
      since = job.finished;
      sessionStorage.setItem("nimboSince", since);
    }
  }

  function toast(event) {
    if (leaving) return;
    const job = event.job || {};
    document.dispatchEvent(new CustomEvent("nimbo:event", { detail: event }));
    const done = job.state === "succeeded" || job.state === "failed";
    if (!done) return;  // progress shows on the job's own page; toasts announce the end
    remember(job);
    const key = job.uuid + ":" + job.state;
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
    setTimeout(() => el.remove(), job.state === "failed" ? 15000 : 8000);
  }

  let polling = null;
  function poll() {
    return fetch(eventsUrl + "?since=" + encodeURIComponent(since), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        if (leaving) return;
        (data.events || []).forEach(toast);
        if (data.now) { since = data.now; sessionStorage.setItem("nimboSince", since); }
      })
      .catch(() => {});
  }
  function startPolling() { if (!polling) polling = setInterval(poll, 3000); }

  let failures = 0;
  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/ws/events/");
    ws.onopen = () => {
      failures = 0;
      if (polling) { clearInterval(polling); polling = null; }
      document.body.dataset.nimboLive = "ws";
      poll();  // anything that ended while the socket was opening
    };
    ws.onmessage = (m) => toast(JSON.parse(m.data));
    ws.onclose = () => {
      document.body.dataset.nimboLive = "poll";
      failures += 1;
      startPolling();
      setTimeout(connect, Math.min(30000, 1000 * 2 ** failures));
    };
  }
  poll().then(connect);
})();
