/* Draw the server-built plotly figures and make every chart element a drill-down link.
 *
 * Each figure sits in an element with data-spec (the figure JSON, fig.to_json()).
 * Points carry their drill-down URL in customdata; clicking one opens the list of
 * leads behind it. Figures arriving later through htmx (polled tiles) are drawn too.
 */
(function () {
  "use strict";

  function linkOf(point) {
    var data = point && point.customdata;
    if (Array.isArray(data)) data = data[0];
    // Only same-site paths: a figure never sends the user elsewhere.
    return typeof data === "string" && data.charAt(0) === "/" && data.charAt(1) !== "/" ? data : null;
  }

  function draw(root) {
    if (typeof Plotly === "undefined") return;
    var nodes = root.querySelectorAll ? root.querySelectorAll("[data-spec]") : [];
    Array.prototype.forEach.call(nodes, function (el) {
      if (el.dataset.drawn === "1") return;
      var spec;
      try {
        spec = JSON.parse(el.dataset.spec);
      } catch (err) {
        el.textContent = "This chart could not be drawn.";
        return;
      }
      var spark = el.classList.contains("spark");
      var config = {
        responsive: true,
        displaylogo: false,
        displayModeBar: spark ? false : "hover",
        modeBarButtonsToRemove: ["select2d", "lasso2d"],
      };
      Plotly.newPlot(el, spec.data || [], spec.layout || {}, config).then(function () {
        el.dataset.drawn = "1";
        el.classList.add("figure-ready");
      });
      el.on("plotly_click", function (event) {
        var link = linkOf(event.points && event.points[0]);
        if (link) window.location.assign(link);
      });
      el.on("plotly_hover", function (event) {
        el.style.cursor = linkOf(event.points && event.points[0]) ? "pointer" : "";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
  // Print: plotly sizes to the screen; redraw at the paper's width.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".figure-ready"), function (el) {
      Plotly.Plots.resize(el);
    });
  });
})();
