/* The page frame: the navigation folds behind a "Menu" button on narrow screens; rows of
 * repeatable inputs (the SLA segment builder) gain and lose rows without a round trip; the
 * small behaviours templates ask for with data attributes. No template carries an inline
 * script, an on* attribute or an htmx eval (hx-on, js:), so `script-src 'self'` holds. */
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

  // Small behaviours the templates ask for with data attributes (no inline scripts, so a
  // strict Content-Security-Policy holds): confirm before a destructive form, submit a
  // filter when its select changes, print, reload with a chosen parameter.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
  document.addEventListener("change", function (event) {
    var element = event.target;
    if (element.hasAttribute("data-submit-on-change") && element.form) {
      element.form.requestSubmit();
    } else if (element.hasAttribute("data-navigate-with")) {
      var name = element.getAttribute("data-navigate-with");
      window.location.search = name + "=" + encodeURIComponent(element.value);
    }
    // <select data-reveals="ID" data-reveals-when="VALUE">: the element ID is shown only
    // while VALUE is chosen (the import's property-name box).
    if (element.hasAttribute("data-reveals")) {
      var revealed = document.getElementById(element.getAttribute("data-reveals"));
      if (revealed) revealed.hidden = element.value !== element.getAttribute("data-reveals-when");
    }
  });

  // <a data-href-from="ID">: after an htmx swap, the link takes the data-href of element ID
  // (the leads export follows the filters htmx applied).
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("[data-href-from]").forEach(function (link) {
      var source = document.getElementById(link.getAttribute("data-href-from"));
      if (source && source.dataset.href) link.href = source.dataset.href;
    });
  });

  // [data-count-as="NAME"][data-count-of="SELECTOR"]: an htmx request sends NAME = how many
  // elements match SELECTOR now (the next persona card's index), without htmx's eval.
  document.addEventListener("htmx:configRequest", function (event) {
    var element = event.detail.elt;
    if (!element || !element.hasAttribute || !element.hasAttribute("data-count-as")) return;
    var count = document.querySelectorAll(element.getAttribute("data-count-of")).length;
    event.detail.parameters[element.getAttribute("data-count-as")] = String(count);
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });
})();
