// Drag and drop upload on /upload: files and whole folders, one POST /api/documents per file
// (so each file gets its own upload progress and its own error), then each file's job followed
// through GET /api/jobs/{id} until it is done or failed. File names are shown with textContent
// only. Without JavaScript the plain form posts to /upload instead.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const section = document.getElementById("upload-progress");
  const list = document.getElementById("upload-list");
  const summary = document.getElementById("upload-summary");
  if (!form || !zone || !input || !section || !list || !summary) return;

  // The extensions the server reads, as the file picker's filter lists them (".pdf,.png,…").
  const EXTENSIONS = (input.accept || "").split(",").map((e) => e.trim().toLowerCase()).filter(Boolean);
  const ACCEPTED = {
    test: (name) => EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext)),
  };
  const MAX_BYTES = parseFloat(zone.dataset.maxBytes || "0");
  const PARALLEL_UPLOADS = 3;
  const POLL_MS = 600;
  const items = [];
  const waiting = [];
  let uploading = 0;
  let skipped = 0;

  zone.classList.add("enhanced");
  zone.querySelector(".drop-hint").hidden = false;
  document.getElementById("upload-button").hidden = true;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // One row per file: its name, a progress bar and a line saying where it stands.
  function addItem(file, name) {
    const row = el("li", "upload-item");
    const label = el("span", "name", name);
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + name);
    const state = el("span", "state", "waiting");
    row.append(label, bar, state);
    list.append(row);
    const item = { file, name, row, bar, state, job: null, outcome: null };
    items.push(item);
    return item;
  }

  function show(item, status, text, fraction) {
    item.row.dataset.status = status;
    item.state.textContent = text;
    item.state.className = "state status-" + status;
    if (fraction !== undefined) item.bar.value = Math.round(fraction * 100);
  }

  function finish(item, outcome, text) {
    item.outcome = outcome;
    show(item, outcome === "failed" ? "failed" : "done", text, 1);
    if (outcome === "failed") item.bar.classList.add("failed");
    updateSummary();
  }

  function updateSummary() {
    const ended = items.filter((i) => i.outcome);
    if (ended.length < items.length) {
      summary.textContent = ended.length + " of " + items.length + " files finished…";
      return;
    }
    const count = (o) => items.filter((i) => i.outcome === o).length;
    const parts = [count("done") + " done"];
    if (count("unchanged")) parts.push(count("unchanged") + " already indexed");
    parts.push(count("failed") + " failed");
    if (skipped) parts.push(skipped + " skipped (not a supported type)");
    summary.textContent = "Finished: " + parts.join(", ") + ". ";
    const link = el("a", "", "See all documents");
    link.href = "/documents";
    summary.append(link);
  }

  function errorMessage(xhr) {
    try {
      return JSON.parse(xhr.responseText).error.message;
    } catch (_) {
      return "the server answered " + xhr.status;
    }
  }

  function upload(item) {
    uploading += 1;
    const data = new FormData();
    data.append("files", item.file, item.name.split("/").pop());
    const tags = form.elements.namedItem("tags").value;
    const metadata = form.elements.namedItem("metadata").value;
    if (tags.trim()) data.append("tags", tags);
    if (metadata.trim()) data.append("metadata", metadata);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    // With SEMSEARCH_API_KEY set, the logged-in page's session token (web/login.py).
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf.content);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) {
        const share = event.loaded / event.total;
        show(item, "uploading", "uploading " + Math.round(share * 100) + "%", share * 0.3);
      }
    };
    xhr.onload = () => {
      if (xhr.status === 202) {
        const body = JSON.parse(xhr.responseText);
        if (body.jobs.length) {
          item.job = body.jobs[0].id;
          show(item, "queued", "queued", 0.3);
          follow();
        } else {
          finish(item, "failed", "failed: " + body.rejected[0].message);
        }
      } else {
        finish(item, "failed", "failed: " + errorMessage(xhr));
      }
    };
    xhr.onerror = () => finish(item, "failed", "failed: the upload did not reach the server");
    xhr.onloadend = () => {
      uploading -= 1;
      next();
    };
    show(item, "uploading", "uploading", 0);
    xhr.send(data);
  }

  function next() {
    while (uploading < PARALLEL_UPLOADS && waiting.length) upload(waiting.shift());
  }

  function describe(job) {
    if (job.status === "paused") return ["paused: " + job.error, 0.3];
    if (job.status === "processing" && job.total) {
      return [job.stage + " " + job.done + "/" + job.total, 0.3 + 0.7 * (job.done / job.total)];
    }
    return [job.stage || job.status, job.status === "processing" ? 0.35 : 0.3];
  }

  let polling = false;
  async function poll() {
    const active = items.filter((i) => i.job && !i.outcome);
    if (!active.length) {
      polling = false;
      return;
    }
    await Promise.all(active.slice(0, 10).map(async (item) => {
      try {
        const response = await fetch("/api/jobs/" + encodeURIComponent(item.job));
        if (!response.ok) return;
        const job = await response.json();
        if (job.status === "done") {
          const unchanged = job.already_indexed;
          finish(item, unchanged ? "unchanged" : "done",
            unchanged ? "done · already indexed" : "done · " + job.chunks + " chunks");
        } else if (job.status === "failed") {
          finish(item, "failed", "failed: " + (job.error || "unknown error"));
        } else {
          const [text, fraction] = describe(job);
          show(item, job.status, text, fraction);
        }
      } catch (_) {
        // A missed poll is retried on the next tick.
      }
    }));
    setTimeout(poll, POLL_MS);
  }

  function follow() {
    if (!polling) {
      polling = true;
      setTimeout(poll, POLL_MS / 2);
    }
  }

  function start(files) {
    if (!files.length && !skipped) return;
    section.hidden = false;
    for (const [file, name] of files) {
      const item = addItem(file, name);
      if (MAX_BYTES && file.size > MAX_BYTES) {
        finish(item, "failed", "failed: larger than " + Math.round(MAX_BYTES / 1048576) + " MB");
      } else {
        waiting.push(item);
      }
    }
    updateSummary();
    next();
  }

  // Folders: read every entry (readEntries answers in batches until it returns none).
  function readFolder(entry) {
    return new Promise((resolve) => {
      const reader = entry.createReader();
      const all = [];
      const more = () => reader.readEntries((batch) => {
        if (!batch.length) return resolve(all);
        all.push(...batch);
        more();
      }, () => resolve(all));
      more();
    });
  }

  async function collect(entry, found, inFolder) {
    if (entry.name.startsWith(".")) return;
    if (entry.isDirectory) {
      for (const child of await readFolder(entry)) await collect(child, found, true);
    } else if (inFolder && !ACCEPTED.test(entry.name)) {
      skipped += 1; // a folder's other files are left out; a file dropped alone is sent
    } else {
      const file = await new Promise((resolve) => entry.file(resolve, () => resolve(null)));
      if (file) found.push([file, entry.fullPath.replace(/^\//, "") || file.name]);
    }
  }

  async function filesOf(transfer) {
    const entries = Array.from(transfer.items || [])
      .map((it) => (it.webkitGetAsEntry ? it.webkitGetAsEntry() : null))
      .filter(Boolean);
    if (!entries.length) return Array.from(transfer.files).map((f) => [f, f.name]);
    const found = [];
    for (const entry of entries) await collect(entry, found, false);
    return found;
  }

  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => {
    zone.classList.remove("over");
  }));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    start(await filesOf(event.dataTransfer));
  });
  input.addEventListener("change", () => {
    start(Array.from(input.files).map((f) => [f, f.name]));
    input.value = "";
  });
  // A folder picked with the second input: its supported files, by their path in the folder.
  const folder = document.getElementById("folder");
  if (folder) {
    folder.addEventListener("change", () => {
      const found = [];
      for (const file of folder.files) {
        const path = file.webkitRelativePath || file.name;
        if (path.split("/").some((part) => part.startsWith("."))) continue;
        if (ACCEPTED.test(file.name)) found.push([file, path]);
        else skipped += 1;
      }
      start(found);
      folder.value = "";
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start(Array.from(input.files).map((f) => [f, f.name]));
  });
})();
