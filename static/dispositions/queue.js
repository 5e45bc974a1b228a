/* The rep's queue: live countdowns between refreshes, keyboard shortcuts, small form helpers.
 *
 * The server is the source of truth: every row carries the business seconds left
 * (data-remaining), its window (data-window) and whether working time is running
 * now (data-ticking). This script only counts down while it is, and htmx reloads
 * the list every minute (and after every change), which resyncs everything.
 */
(function () {
  "use strict";

  var YELLOW_SHARE = 0.25; // same rule as apps/dispositions/countdown.py
  var STATES = {
    green: { symbol: "●", label: "On track" },
    yellow: { symbol: "▲", label: "Due soon" },
    red: { symbol: "■", label: "Overdue" },
  };
  var TOUCH_KEYS = { c: "call", e: "email_sent", m: "meeting", s: "sms", o: "social" };
  var OUTCOME_KEYS = { a: "accepted", w: "working", r: "rejected", n: "nurture" };

  function durationLabel(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    if (minutes < 1) return "< 1m";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours >= 72) {
      var days = Math.floor(hours / 24);
      hours = hours % 24;
      return hours ? days + "d " + hours + "h" : days + "d";
    }
    if (hours) return hours + "h " + (minutes < 10 ? "0" : "") + minutes + "m";
    return minutes + "m";
  }

  function stateOf(remaining, windowSeconds, due) {
    if (due) return "red";
    if (remaining < windowSeconds * YELLOW_SHARE) return "yellow";
    return "green";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (badge) {
      if (badge.dataset.ticking !== "1") return;
      // Each badge counts from when it arrived: a row swapped in later has fresher data.
      if (badge.dataset.seenAt === undefined) badge.dataset.seenAt = String(now);
      var elapsed = Math.floor((now - Number(badge.dataset.seenAt)) / 1000);
      var remaining = Number(badge.dataset.remaining) - elapsed;
      var due = remaining <= 0;
      var state = stateOf(remaining, Number(badge.dataset.window), due);
      badge.classList.remove("green", "yellow", "red");
      badge.classList.add(state);
      badge.querySelector("[data-symbol]").textContent = STATES[state].symbol;
      // Same words as countdown.py: "Due soon · 30m left", "Overdue by 1h 05m".
      var text = due
        ? remaining > -60 ? "Overdue" : "Overdue by " + durationLabel(remaining)
        : STATES[state].label + " · " + durationLabel(remaining) + " left";
      badge.querySelector("[data-text]").textContent = text;
    });
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }

  function currentRow() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr.queue-row") : null;
  }

  function isTyping(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && element.type !== "checkbox");
  }

  function moveFocus(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = all[Math.min(Math.max(index + step, 0), all.length - 1)] || all[0];
    next.focus();
  }

  function setOutcome(row, outcome) {
    var form = row.querySelector("[data-disposition-form]");
    if (!form) return null;
    form.querySelector("[data-outcome-select]").value = outcome;
    return form;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?" && !isTyping(document.activeElement)) {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (isTyping(document.activeElement)) {
      // Enter in a reason select saves the disposition (selects do not submit by themselves).
      if (event.key === "Enter" && document.activeElement.matches("[data-reason-select]")) {
        var form = document.activeElement.closest("form");
        if (form) { form.requestSubmit(); event.preventDefault(); }
      }
      return;
    }
    var key = event.key;
    if (key === "j" || key === "ArrowDown") { moveFocus(1); event.preventDefault(); return; }
    if (key === "k" || key === "ArrowUp") { moveFocus(-1); event.preventDefault(); return; }
    if (key === "u") {
      var undoButton = document.querySelector("#queue-status [data-undo]");
      if (undoButton) { undoButton.click(); event.preventDefault(); }
      return;
    }
    var row = currentRow();
    if (!row) return;
    if (TOUCH_KEYS[key]) {
      var button = row.querySelector('[data-touch="' + TOUCH_KEYS[key] + '"]');
      if (button) { button.click(); event.preventDefault(); }
      return;
    }
    if (OUTCOME_KEYS[key]) {
      var outcome = OUTCOME_KEYS[key];
      var dispositionForm = setOutcome(row, outcome);
      if (!dispositionForm) return;
      event.preventDefault();
      if (outcome === "rejected" || outcome === "nurture") {
        dispositionForm.querySelector("[data-reason-select]").focus();
      } else {
        dispositionForm.requestSubmit();
      }
      return;
    }
    if (key === "x") {
      var box = row.querySelector("[data-select]");
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    }
  }

  function toggleHelp() {
    var help = document.getElementById("queue-help");
    var button = document.querySelector("[data-queue-help]");
    if (!help) return;
    help.hidden = !help.hidden;
    if (button) button.setAttribute("aria-expanded", String(!help.hidden));
  }

  // A reason belongs to one outcome: picking it picks the outcome too.
  function onChange(event) {
    var select = event.target;
    if (!select.matches || !select.matches("[data-reason-select]")) return;
    var option = select.options[select.selectedIndex];
    var outcome = option && option.dataset.outcome;
    var form = select.closest("form");
    if (outcome && form) {
      var outcomeSelect = form.querySelector("[data-outcome-select]");
      if (outcomeSelect) outcomeSelect.value = outcome;
    }
  }

  // The minute poll must not wipe what someone is typing or has ticked, nor swap a form
  // out from under a click: it skips a tick while the rep is in the list (a row or its form
  // has the focus), a row is posting, or something is typed or selected. A refresh after a
  // change (queue-changed) always runs. Checked here, not in an hx-trigger filter: htmx
  // evaluates those, which `script-src 'self'` forbids.
  function isBusy(list) {
    if (list.matches(":focus-within") || list.querySelector(".htmx-request")) return true;
    var active = document.activeElement;
    if (active && list.contains(active) && isTyping(active)) return true;
    if (document.querySelector("[data-select]:checked")) return true;
    return Array.prototype.some.call(list.querySelectorAll("input[type=text]"), function (input) {
      return input.value.trim() !== "";
    });
  }

  // Where the keyboard goes when the list comes back: after a disposition the lead leaves
  // the list and the next one (the row below, or the one above at the end) takes the focus;
  // after an Undo, the lead that came back.
  var focusedLead = null;
  var focusedIndex = 0;
  var pendingFocus = null;

  function neighbourOf(row) {
    var next = row.nextElementSibling;
    while (next && !next.matches("tr.queue-row")) next = next.nextElementSibling;
    if (next) return next.dataset.lead;
    var previous = row.previousElementSibling;
    while (previous && !previous.matches("tr.queue-row")) previous = previous.previousElementSibling;
    return previous ? previous.dataset.lead : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-disposition-form]")) {
      var disposed = elt.closest("tr.queue-row");
      if (disposed) pendingFocus = { lead: neighbourOf(disposed), after: disposed.dataset.lead };
      return;
    }
    var list = elt;
    if (!list || list.id !== "queue-list") return;
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    var isPoll = !trigger || trigger.type !== "queue-changed";
    if (isPoll && isBusy(list)) { event.preventDefault(); return; }
    var row = currentRow();
    if (row) {
      focusedLead = row.dataset.lead;
      focusedIndex = rows().indexOf(row);
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "queue-list") return;
    var target = null;
    if (pendingFocus) {
      var gone = !pendingFocus.after || !document.getElementById("lead-" + pendingFocus.after);
      if (gone) target = document.getElementById("lead-" + pendingFocus.lead);
      if (!gone) target = document.getElementById("lead-" + pendingFocus.after);
      pendingFocus = null;
    }
    if (!target && focusedLead && !currentRow()) {
      var all = rows();
      target = document.getElementById("lead-" + focusedLead) || all[Math.min(focusedIndex, all.length - 1)];
    }
    if (target) target.focus();
  });
  // After an Undo, the lead that came back gets the keyboard.
  document.body.addEventListener("queue-focus", function (event) {
    if (event.detail && event.detail.lead) pendingFocus = { lead: String(event.detail.lead), after: null };
    clearUndo();
  });

  // Confirmations of inline actions outlive the row they came with (the list refreshes);
  // a disposition's comes with an Undo for a few seconds ("u" on the keyboard).
  var undoTimer = null;
  function clearUndo() {
    if (undoTimer) { clearInterval(undoTimer); undoTimer = null; }
    var shown = document.querySelector("#queue-status [data-undo]");
    if (shown) shown.remove();
  }
  function offerUndo(status, url, seconds) {
    var template = document.getElementById("queue-undo-template");
    if (!template || !url) return;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML;
    var button = holder.firstElementChild;
    button.setAttribute("hx-post", url);
    status.appendChild(document.createTextNode(" "));
    status.appendChild(button);
    if (window.htmx) window.htmx.process(button);
    var left = seconds;
    var counter = button.querySelector("[data-undo-left]");
    counter.textContent = "(" + left + ")";
    undoTimer = setInterval(function () {
      left -= 1;
      if (left <= 0) { clearUndo(); return; }
      counter.textContent = "(" + left + ")";
    }, 1000);
  }
  document.body.addEventListener("queue-message", function (event) {
    var status = document.getElementById("queue-status");
    if (!status || !event.detail || !event.detail.text) return;
    clearUndo();
    status.textContent = "✓ " + event.detail.text;
    if (event.detail.undo) offerUndo(status, event.detail.undo, event.detail.undo_seconds || 8);
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("change", onChange);
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-queue-help]")) toggleHelp();
  });
  document.addEventListener("focusin", function () {
    var row = currentRow();
    if (row) focusedLead = row.dataset.lead;
  });
  setInterval(tick, 1000);
})();
