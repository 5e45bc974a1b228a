/* The page frame: the navigation folds behind a "Menu" button on narrow screens; rows of
 * repeatable inputs (the SLA segment builder) gain and lose rows without a round trip. The
 * small behaviours templates ask for with data attributes (confirm, print, submit on change…)
 * live in static/js/app.js. No template carries an inline script, an on* attribute or an
 * htmx eval (hx-on, js:), so `script-src 'self'` holds. */
(function () {
  "use strict";

  function setOpen(button, open) {
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", String(open));
    if (nav) nav.classList.toggle("open", open);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (button) setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var button = document.querySelector('[data-nav-toggle][aria-expanded="true"]');
    if (button) { setOpen(button, false); button.focus(); }
  });

  // [data-repeat] holds rows named NAME-<index>-…; a <template data-repeat-template> with
  // __index__ is cloned by [data-repeat-add]; [data-repeat-remove] drops its row.
  document.addEventListener("click", function (event) {
    var add = event.target.closest && event.target.closest("[data-repeat-add]");
    var remove = event.target.closest && event.target.closest("[data-repeat-remove]");
    if (add) {
      var box = add.closest("[data-repeat]");
      var template = box && box.querySelector("template[data-repeat-template]");
      if (!template) return;
      var used = box.querySelectorAll("[data-repeat-row]").length;
      var max = Number(box.getAttribute("data-repeat-max") || 20);
      var taken = {};
      box.querySelectorAll("[data-repeat-row] [name]").forEach(function (input) {
        var match = input.name.match(/-(\d+)-[^-]+$/);
        if (match) taken[match[1]] = true;
      });
      if (used >= max) return;
      var index = 0;
      while (taken[index]) index += 1;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__index__/g, String(index));
      var row = holder.firstElementChild;
      add.parentNode.insertBefore(row, template);
      var first = row.querySelector("select, input");
      if (first) first.focus();
    } else if (remove) {
      var rowToRemove = remove.closest("[data-repeat-row]");
      if (rowToRemove) rowToRemove.parentNode.removeChild(rowToRemove);
    }
  });
})();
