/* Page behaviours declared with data attributes, so no template needs an inline script or an
 * on*= handler (the Content-Security-Policy allows scripts from our static files only).
 *
 *   <form data-confirm="Delete?">              asks before submitting
 *   <button data-print>                        prints the page
 *   <a href="/fallback/" data-back>            goes back in the history (to the page that
 *       linked here, with its filters), or follows href when opened on its own
 *   <select data-autosubmit>                   submits its form on change
 *   <select data-navigate-param="encoding">    reloads with ?encoding=<value>
 *   <button hx-get=… data-index-of="#list li"> sends index=<number of matches> with the request
 *   <select data-reveals="ID" data-reveals-when="VALUE">  shows element ID only while VALUE
 *       is chosen (the import's property-name box)
 *   <a data-href-from="ID">                    after an htmx swap takes the data-href of
 *       element ID (the leads export follows the filters htmx applied)
 *
 * One handler per attribute: static/js/layout.js keeps the page frame (menu, repeatable
 * rows), static/dispositions/queue.js the queue's own refresh skip and shortcuts.
 */
(function () {
  "use strict";

  // No eval (hx-vals="js:…", hx-on, hx-trigger filters) under the Content-Security-Policy.
  // Set here rather than in a <meta name="htmx-config">: htmx reads only the first such meta,
  // and pages keep theirs for their own settings (e.g. swapping 422 answers).
  if (window.htmx) window.htmx.config.allowEval = false;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) window.print();
    var back = event.target.closest && event.target.closest("a[data-back]");
    if (back && window.history.length > 1 && document.referrer) {
      event.preventDefault();
      window.history.back();
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.dataset) return;
    // requestSubmit, not submit(): the form's submit listeners (htmx, data-confirm) run.
    if (el.dataset.autosubmit !== undefined && el.form) el.form.requestSubmit();
    if (el.dataset.navigateParam) {
      var params = new URLSearchParams(window.location.search);
      params.set(el.dataset.navigateParam, el.value);
      window.location.search = params.toString();
    }
    if (el.dataset.reveals) {
      var revealed = document.getElementById(el.dataset.reveals);
      if (revealed) revealed.hidden = el.value !== el.dataset.revealsWhen;
    }
  });

  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("[data-href-from]").forEach(function (link) {
      var source = document.getElementById(link.dataset.hrefFrom);
      if (source && source.dataset.href) link.href = source.dataset.href;
    });
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.dataset && source.dataset.indexOf) {
      event.detail.parameters.index = document.querySelectorAll(source.dataset.indexOf).length;
    }
  });
})();
