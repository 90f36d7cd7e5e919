// Instant search on `/`: as the user types, fetch this same page for the query and swap in its
// results, so the server stays the only renderer (it escapes document text; nothing from a
// document is ever inserted as markup here). The plain GET form keeps working without it.
(function () {
  "use strict";
  const form = document.querySelector("form.search");
  const box = document.getElementById("q");
  const status = document.getElementById("search-status");
  if (!form || !box || !status || !document.getElementById("results")) return;

  const keys = document.getElementById("keys");
  if (keys) keys.hidden = false; // the key hints hold only with this script

  const DEBOUNCE_MS = 250;
  let timer = 0;
  let inFlight = null;

  // The form's fields as a query string, without the blanks an untouched form sends
  // (`meta=`, `ingested_after=`), so shared URLs stay short.
  function queryString() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "") params.append(name, value);
    }
    if (params.get("mode") === "hybrid") params.delete("mode");
    return params.toString();
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "meta status-line" + (kind ? " " + kind : "");
  }

  async function run() {
    const query = queryString();
    const url = query ? "/?" + query : "/";
    history.replaceState(null, "", url);
    document.title = (box.value.trim() || "Search") + " · semsearch";
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    const results = document.getElementById("results");
    results.setAttribute("aria-busy", "true");
    say(box.value.trim() ? "Searching…" : "", "loading");
    try {
      const response = await fetch(url, {
        signal: controller.signal,
        headers: { Accept: "text/html" },
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("results");
      if (!fresh) throw new Error("the server answered " + response.status);
      results.replaceWith(document.importNode(fresh, true));
      const count = fresh.querySelectorAll("li.hit").length;
      // For screen readers only: the results say the same on screen.
      say(box.value.trim() ? count + " result" + (count === 1 ? "" : "s") : "", "visually-hidden");
    } catch (error) {
      if (error.name === "AbortError") return;
      results.removeAttribute("aria-busy");
      say("Search failed: " + error.message + ". Press Enter to try again.", "error");
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  box.addEventListener("input", schedule);
  form.addEventListener("change", (event) => {
    if (event.target !== box) schedule();
  });

  // Keyboard: `/` jumps to the box; ↓/↑ walk the result titles; Escape goes back to the box.
  const resultLinks = () => Array.from(document.querySelectorAll("#results li.hit h2 a"));
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      box.focus();
      box.select();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Escape") return;
    const links = resultLinks();
    const index = links.indexOf(document.activeElement);
    if (event.key === "Escape") {
      if (index >= 0) box.focus();
      return;
    }
    if (target !== box && index < 0) return;
    if (!links.length) return;
    event.preventDefault();
    if (event.key === "ArrowDown") {
      links[Math.min(index + 1, links.length - 1)].focus();
    } else if (index <= 0) {
      box.focus();
    } else {
      links[index - 1].focus();
    }
  });
})();
