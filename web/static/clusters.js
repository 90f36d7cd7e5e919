// /clusters: changing the level or k re-clusters at once, and hovering or focusing a point
// on the map names its document under the map (as text; the name is never parsed as markup).
(function () {
  "use strict";
  const form = document.getElementById("cluster-form");
  if (form) {
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", () => form.requestSubmit());
    }
  }
  const map = document.getElementById("map");
  const tip = document.getElementById("map-tip");
  if (!map || !tip) return;
  function name(event) {
    const point = event.target.closest("a.point");
    if (!point) return;
    tip.textContent = point.dataset.name;
    map.querySelectorAll("a.point.active").forEach((p) => p.classList.remove("active"));
    point.classList.add("active");
  }
  map.addEventListener("mouseover", name);
  map.addEventListener("focusin", name);
})();
