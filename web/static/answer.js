// "Ask" on `/`: the answer streams into the panel above the results, from `POST /api/answer`
// (Server-Sent Events), with the form's mode and filters. Without this script the same button
// loads `/?…&ask=1`, which the server renders whole into the same panel (answer.html).
//
// The model's output and the documents' text are untrusted: they only ever become text nodes
// (textContent). The one piece of markup made from an answer is a citation `[n]`, turned into a
// link to source n here, and only when source n exists.
(function () {
  "use strict";
  const form = document.querySelector("form.search");
  const box = document.getElementById("q");
  const panel = document.getElementById("answer");
  const template = document.getElementById("answer-source-template");
  if (!form || !box || !panel || !template) return;
  const status = document.getElementById("answer-status");
  const text = document.getElementById("answer-text");
  const list = document.getElementById("answer-sources");
  const button = document.getElementById("ask-button");
  const label = button ? button.textContent : "Ask";
  // The same citations as generation/answer.py: "[3]", or a list "[1, 4]".
  const CITATION = /\[(\d{1,4}(?:\s*,\s*\d{1,4}){0,9})\]/g;
  let inFlight = null;

  function say(message, kind) {
    status.textContent = message;
    status.className = "meta status-line" + (kind ? " " + kind : "");
  }

  function clear() {
    if (inFlight) inFlight.abort();
    inFlight = null;
    panel.removeAttribute("aria-busy");
    text.replaceChildren();
    list.replaceChildren();
    say("");
  }

  // The request body: the form's query, mode and filters, in the fields of /api/answer.
  function body() {
    const data = new FormData(form);
    const filled = (name) => data.getAll(name).filter((v) => typeof v === "string" && v.trim());
    const request = { q: box.value, mode: data.get("mode") || "hybrid", stream: true };
    if (filled("tags").length) request.tags = filled("tags");
    if (filled("file_type").length) request.file_type = filled("file_type");
    if (filled("meta").length) request.meta = filled("meta");
    for (const name of ["ingested_after", "ingested_before"]) {
      if (filled(name).length) request[name] = filled(name)[0];
    }
    return request;
  }

  function renderSources(sources) {
    list.replaceChildren();
    for (const source of sources) {
      const item = template.content.firstElementChild.cloneNode(true);
      item.id = "answer-source-" + source.n;
      item.querySelector(".n").textContent = "[" + source.n + "]";
      item.querySelector(".title").textContent = source.title || source.filename;
      item.querySelector(".filename").textContent = source.filename;
      const open = item.querySelector("a.open");
      open.href = source.url;
      open.textContent = source.page ? "open at page " + source.page : "open";
      item.querySelector(".passage").textContent = source.text;
      list.append(item);
    }
  }

  // The answer so far, as text nodes and citation links (re-rendered whole on each piece:
  // answers are short, and a citation is never split across pieces by the server).
  function renderText(answer, sourceCount) {
    const nodes = [];
    let start = 0;
    for (const match of answer.matchAll(CITATION)) {
      if (match.index > start) nodes.push(document.createTextNode(answer.slice(start, match.index)));
      for (const number of match[1].split(",").map((n) => parseInt(n, 10))) {
        if (number >= 1 && number <= sourceCount) {
          const link = document.createElement("a");
          link.className = "cite";
          link.href = "#answer-source-" + number;
          link.textContent = "[" + number + "]";
          nodes.push(link);
        } else {
          nodes.push(document.createTextNode("[" + number + "]"));
        }
      }
      start = match.index + match[0].length;
    }
    if (start < answer.length) nodes.push(document.createTextNode(answer.slice(start)));
    text.replaceChildren(...nodes);
  }

  // Each complete event of an SSE stream: {event, data}; comments (": ping") are skipped.
  function parseEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
  }

  async function errorMessage(response) {
    try {
      const problem = await response.json();
      if (problem && problem.error && problem.error.message) return problem.error.message;
    } catch (ignored) {
      // not the JSON error shape: say the status
    }
    return "the server answered " + response.status;
  }

  async function ask() {
    if (!box.value.trim()) {
      box.focus();
      return;
    }
    clear();
    const controller = new AbortController();
    inFlight = controller;
    panel.hidden = false;
    panel.setAttribute("aria-busy", "true");
    if (button) {
      button.disabled = true;
      button.textContent = "Asking…";
    }
    say("Finding sources…", "loading");
    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) headers["X-CSRF-Token"] = csrf.content;
    let answer = "";
    let sourceCount = 0;
    let ended = false;
    try {
      const response = await fetch("/api/answer", {
        method: "POST",
        headers,
        body: JSON.stringify(body()),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(await errorMessage(response));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const blocks = buffer.split(/\r?\n\r?\n/);
        buffer = blocks.pop();
        for (const block of blocks) {
          const message = parseEvent(block);
          if (!message) continue;
          if (message.event === "sources") {
            sourceCount = message.data.sources.length;
            renderSources(message.data.sources);
            say(sourceCount ? "Answering from " + sourceCount + " source" + (sourceCount === 1 ? "" : "s") + "…" : "", "loading");
          } else if (message.event === "delta") {
            answer += message.data.text;
            renderText(answer, sourceCount);
          } else if (message.event === "done") {
            ended = true;
            say(message.data.model ? "from " + message.data.model + " · " + sourceCount + " source" + (sourceCount === 1 ? "" : "s") : "");
          } else if (message.event === "error") {
            ended = true;
            say("The answer failed: " + message.data.error.message, "error");
          }
        }
      }
      if (!ended) say("The answer broke off before its end.", "error");
    } catch (error) {
      if (error.name === "AbortError") return;
      say("No answer: " + error.message, "error");
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        panel.removeAttribute("aria-busy");
      }
      if (button) {
        button.disabled = false;
        button.textContent = label;
      }
    }
  }

  form.addEventListener("submit", (event) => {
    if (!event.submitter || event.submitter.name !== "ask") return;
    event.preventDefault();
    ask();
  });
  // A new query makes the old answer wrong: it goes, and its stream is stopped.
  box.addEventListener("input", () => {
    if (panel.hidden) return;
    clear();
    panel.hidden = true;
  });
})();
