// Follows unfinished upload jobs on /upload: polls /api/jobs/{id} and updates their rows.
(function () {
  "use strict";
  const rows = () => Array.from(document.querySelectorAll("tr[data-job]"))
    .filter((row) => ["queued", "processing", "paused"].includes(row.dataset.status));

  async function refresh() {
    const pending = rows();
    for (const row of pending) {
      const response = await fetch("/api/jobs/" + row.dataset.job);
      if (!response.ok) continue;
      const job = await response.json();
      row.dataset.status = job.status;
      const cells = row.querySelectorAll("td");
      cells[1].textContent = job.status;
      cells[1].className = "status status-" + job.status;
      const bar = cells[2].querySelector("progress");
      bar.max = job.total || 1;
      bar.value = job.done;
      bar.nextSibling.textContent = " " + job.stage;
      cells[3].textContent = job.error || (job.already_indexed ? "already indexed" : (job.status === "done" ? job.chunks + " chunks" : ""));
      cells[3].className = job.error ? "error" : "";
    }
    if (rows().length) setTimeout(refresh, 700);
  }
  if (rows().length) setTimeout(refresh, 300);
})();
