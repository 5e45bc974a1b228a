/* Lead list: keep the export link in step with the filters htmx applied. */
(function () {
  "use strict";
  document.body.addEventListener("htmx:afterSwap", function () {
    var source = document.getElementById("export-query");
    if (source) document.getElementById("export-link").href = source.dataset.href;
  });
})();
