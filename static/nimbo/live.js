// Lists and detail pages follow the jobs: when an event arrives (a job queued, running or ended), the
// page is fetched again in the background and what changed is swapped in: the rows of a list, the
// state badges, and the sections marked data-live. Nothing the user is typing is touched.
(function () {
  let timer = null;
  let busy = false;

  function rowKey(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const link = row.querySelector("th a, td a");
    return link ? link.getAttribute("href") : null;
  }

  function swapRows(fresh) {
    const table = document.getElementById("result_list");
    const next = fresh.getElementById("result_list");
    if (!table || !next) {
      const results = document.querySelector("#changelist-form .results, #changelist-form p.paginator");
      const nextResults = fresh.querySelector("#changelist-form .results");
      if (!table && nextResults && results) location.reload();  // the first row of an empty list
      return;
    }
    const rows = new Map([...table.tBodies[0].rows].map((r) => [rowKey(r), r]));
    const freshRows = [...next.tBodies[0].rows];
    const same = freshRows.length === rows.size && freshRows.every((r) => rows.has(rowKey(r)));
    if (same) {
      freshRows.forEach((r) => {
        const row = rows.get(rowKey(r));
        [...r.cells].forEach((cell, i) => {
          if (i < row.cells.length && !cell.querySelector("input.action-select") &&
              row.cells[i].innerHTML !== cell.innerHTML) row.cells[i].innerHTML = cell.innerHTML;
        });
      });
    } else if (!document.querySelector("input.action-select:checked")) {
      table.tBodies[0].innerHTML = next.tBodies[0].innerHTML;
    }
  }

  function swapSections(fresh) {
    document.querySelectorAll("[data-live][id]").forEach((el) => {
      const next = fresh.getElementById(el.id);
      if (next && next.innerHTML !== el.innerHTML && !el.contains(document.activeElement)) {
        el.replaceWith(next);
        if (window.htmx) htmx.process(next);
      }
    });
    document.querySelectorAll(".readonly .nimbo-badge[data-pk]").forEach((el) => {
      const next = fresh.querySelector(`.readonly .nimbo-badge[data-pk="${el.dataset.pk}"]`);
      if (next && next.outerHTML !== el.outerHTML) el.replaceWith(next);
    });
  }

  function refresh() {
    if (busy) { schedule(); return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Nimbo-Live": "1" } })
      .then((r) => (r.ok && r.headers.get("content-type").startsWith("text/html") ? r.text() : null))
      .then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        swapRows(fresh);
        swapSections(fresh);
        document.body.dataset.nimboRefreshed = String(Date.now());
      })
      .catch(() => {})
      .finally(() => { busy = false; });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  document.addEventListener("nimbo:event", (e) => {
    if (!e.detail || !e.detail.job) return;
    if (!document.getElementById("result_list") && !document.querySelector("[data-live], .readonly .nimbo-badge[data-pk]")) return;
    schedule();
  });
})();
