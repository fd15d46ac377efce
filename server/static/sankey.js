/* Draw the Sankey of /sankey from the figure JSON in the page; nodes open their pages. */
(function () {
  "use strict";
  var holder = document.getElementById("sankey");
  var source = document.getElementById("sankey-figure");
  if (!holder || !source || typeof Plotly === "undefined") { return; }
  var figure = JSON.parse(source.textContent);
  var layout = figure.layout || {};
  layout.autosize = true;
  Plotly.newPlot(holder, figure.data, layout, {displaylogo: false, responsive: true}).then(function () {
    holder.setAttribute("data-ready", "true");
  });
  holder.on("plotly_click", function (event) {
    var point = event && event.points && event.points[0];
    if (!point || !point.customdata) { return; }
    var href = Array.isArray(point.customdata) ? (point.customdata.length === 4 ? point.customdata[3] : point.customdata[0]) : "";
    if (href && href.charAt(0) === "/") { window.location.href = href; }
  });
}());
