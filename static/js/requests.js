/* One way every htmx request of Handoff fails out loud.
 *
 * htmx swaps only 2xx responses by default, so a refused form used to look as if
 * nothing happened. The rules, for every page:
 *  - 4xx with an HTML fragment: the view re-rendered the part with its field errors
 *    (and the stored values of what it refused): swap it in like a success.
 *  - anything else (a full error page, a 5xx, JSON, no answer at all): keep the page,
 *    say what happened right next to the control that sent the request, and put the
 *    controls of an edit form (data-revert-on-error) back to their stored values.
 *    What someone typed into a new entry (a note, a disposition) is never thrown away.
 *  - a session that expired sends the whole page to the login screen (HX-Redirect).
 */
(function () {
  "use strict";

  var MESSAGES = {
    0: "Could not reach Handoff: check your connection. Nothing was saved; try again.",
    401: "Your session has ended: sign in again.",
    403: "Your role does not allow this.",
    404: "Not found: it was probably changed or removed meanwhile. Reload the page.",
    405: "This action is not available here.",
    408: "The server took too long to answer. Nothing was saved; try again.",
    409: "This changed meanwhile. Reload the page and try again.",
    413: "That is too large to send.",
    429: "Too many requests: wait a moment and try again.",
  };

  function messageFor(status) {
    if (MESSAGES[status]) return MESSAGES[status];
    if (status >= 500) return "Something went wrong on our side (error " + status + "). Nothing was saved; try again.";
    return "The request was refused (error " + status + ").";
  }

  function isFragment(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/html") !== 0) return false;
    return !/^\s*(<!doctype|<html)/i.test(xhr.responseText || "");
  }

  // The control a person used: the submit button of a form, else the element itself.
  function anchorOf(detail) {
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    var submitter = trigger && trigger.submitter;
    return submitter || detail.elt;
  }

  var problems = new WeakMap();

  function clearProblem(elt) {
    var shown = problems.get(elt);
    if (shown && shown.parentNode) shown.parentNode.removeChild(shown);
    problems.delete(elt);
  }

  function showProblem(detail, text) {
    var elt = detail.elt;
    if (!elt || !elt.isConnected) {
      elt = document.getElementById("content") || document.body;
    }
    clearProblem(elt);
    var note = document.createElement("span");
    note.className = "request-problem";
    note.setAttribute("role", "alert");
    note.textContent = text;
    var anchor = anchorOf(detail);
    if (!anchor || !anchor.isConnected || !anchor.parentNode) anchor = elt;
    if (anchor === document.body || anchor.id === "content") {
      anchor.insertBefore(note, anchor.firstChild);
    } else {
      anchor.insertAdjacentElement("afterend", note);
    }
    problems.set(elt, note);
  }

  function revert(detail) {
    var elt = detail.elt;
    var form = elt && (elt.tagName === "FORM" ? elt : elt.closest && elt.closest("form"));
    if (form && form.hasAttribute("data-revert-on-error")) form.reset();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    clearProblem(event.detail.elt);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 && isFragment(xhr)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = messageFor(xhr.status);
    var header = xhr.getResponseHeader("X-Handoff-Message");
    if (header) text = decodeURIComponent(header);
    revert(event.detail);
    showProblem(event.detail, text);
  });

  function offline(event) {
    revert(event.detail);
    showProblem(event.detail, MESSAGES[0]);
  }
  document.addEventListener("htmx:sendError", offline);
  document.addEventListener("htmx:timeout", offline);
})();
