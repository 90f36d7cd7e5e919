// /settings: each "Test connection" without leaving the page. A form with data-result posts
// the same form the page has without JavaScript and swaps in the server's rendered answer for
// the element of that id.
(function () {
  "use strict";
  for (const form of document.querySelectorAll("form[data-result]")) {
    const button = form.querySelector("button[type=submit]");
    const label = button.textContent;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = document.getElementById(form.dataset.result);
      button.disabled = true;
      button.textContent = "Testing…";
      result.textContent = "";
      try {
        // The form carries the CSRF field when a key is set (web/login.py); no header needed.
        const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById(form.dataset.result);
        if (!fresh) throw new Error("the server answered " + response.status);
        result.replaceWith(document.importNode(fresh, true));
      } catch (error) {
        const message = document.createElement("div");
        message.className = "errors";
        message.setAttribute("role", "status");
        message.textContent = "The check could not run: " + error.message;
        result.append(message);
      } finally {
        button.disabled = false;
        button.textContent = label;
      }
    });
  }
})();
