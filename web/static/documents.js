// /documents: sort by a column header click, filter by name as you type, and confirm a delete
// in a dialog. Every row carries its values in data- attributes, so nothing is parsed back out
// of the page's text. Without JavaScript the headers are ?sort= links, the filter is a GET form
// and Delete answers a confirmation page.
(function () {
  "use strict";
  const table = document.getElementById("documents");
  const filter = document.getElementById("name-filter");
  const count = document.getElementById("shown-count");
  const NUMERIC = new Set(["pages", "chunks", "size"]);

  function rows() {
    return Array.from(table.tBodies[0].rows);
  }

  function sortBy(key, ascending) {
    const numeric = NUMERIC.has(key);
    const value = (row) => (numeric ? Number(row.dataset[key]) : row.dataset[key] || "");
    const sorted = rows().sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order = numeric ? x - y : x.localeCompare(y);
      return ascending ? order : -order;
    });
    table.tBodies[0].append(...sorted);
    for (const th of table.tHead.querySelectorAll("th[data-sort]")) {
      const current = th.dataset.sort === key;
      th.setAttribute("aria-sort", current ? (ascending ? "ascending" : "descending") : "none");
    }
    const params = new URLSearchParams(location.search);
    params.set("sort", key);
    params.set("order", ascending ? "asc" : "desc");
    history.replaceState(null, "", "?" + params.toString());
  }

  function applyFilter() {
    const wanted = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows()) {
      const match = !wanted || row.dataset.search.includes(wanted);
      row.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = shown + " of " + rows().length + " shown";
    const params = new URLSearchParams(location.search);
    if (wanted) params.set("name", filter.value.trim());
    else params.delete("name");
    const query = params.toString();
    history.replaceState(null, "", query ? "?" + query : location.pathname);
  }

  if (table) {
    table.tHead.addEventListener("click", (event) => {
      const link = event.target.closest("a.sort");
      if (!link) return;
      event.preventDefault();
      const th = link.closest("th");
      sortBy(th.dataset.sort, th.getAttribute("aria-sort") !== "ascending");
    });
    table.addEventListener("submit", (event) => {
      const form = event.target;
      if (!form.classList.contains("delete")) return;
      if (!window.confirm("Delete “" + form.dataset.name + "”? This cannot be undone.")) {
        event.preventDefault();
        return;
      }
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirm";
      confirmed.value = "yes";
      form.append(confirmed);
    });
  }
  if (table && filter && count) {
    // The server already filtered by ?name=; from here on the rows are filtered in place.
    // Submitting still asks the server, which also finds rows an earlier ?name= left out.
    filter.addEventListener("input", applyFilter);
  }

  // Rows of files still being ingested: reload the list when they finish.
  if (document.querySelector("td.status-queued, td.status-processing, td.status-paused")) {
    const reload = () => (document.activeElement === filter ? setTimeout(reload, 2000)
      : location.reload());
    setTimeout(reload, 2000);
  }
})();
