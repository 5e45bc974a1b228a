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
 *   <div hx-trigger="every 60s" data-poll-skip-when-busy>  skips a polling tick while the element
 *       holds the focus or one of its own requests is in flight (an hx-trigger filter would
 *       need eval, which the policy forbids)
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
    if (el.dataset.autosubmit !== undefined && el.form) el.form.submit();
    if (el.dataset.navigateParam) {
      var params = new URLSearchParams(window.location.search);
      params.set(el.dataset.navigateParam, el.value);
      window.location.search = params.toString();
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = event.detail.elt;
    var polling = !(event.detail.requestConfig && event.detail.requestConfig.triggeringEvent);
    if (el && el.dataset && el.dataset.pollSkipWhenBusy !== undefined && polling &&
        (el.matches(":focus-within") || el.querySelector(".htmx-request"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.dataset && source.dataset.indexOf) {
      event.detail.parameters.index = document.querySelectorAll(source.dataset.indexOf).length;
    }
  });
})();
