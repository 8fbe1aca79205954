// The stages-by-date report: a stacked bar chart; a click on a segment opens its leads.
(function () {
  "use strict";
  var chart = document.getElementById("stage-chart");
  var source = document.getElementById("stage-chart-data");
  if (!chart || !source || !window.Plotly) {
    return;
  }
  // Shades per stage category: the same meaning gets the same colour family.
  var PALETTE = {
    new: ["#8a9bb0", "#b4c1d0"],
    working: ["#2f7fd8", "#6aa9ec", "#1c5aa3"],
    qualified: ["#f0a020", "#f6c35c", "#c77d00", "#ffd98f"],
    won: ["#2e9e4f", "#6cc585", "#1d6f36"],
    lost: ["#d64045", "#ec7e82", "#a3262b"],
    invalid: ["#5c5c5c", "#8f8f8f", "#3a3a3a"],
  };
  var data = JSON.parse(source.textContent);
  var used = {};
  data.traces.forEach(function (trace) {
    var shades = PALETTE[trace.meta] || PALETTE.new;
    var n = used[trace.meta] = (used[trace.meta] || 0) + 1;
    trace.marker = {color: shades[(n - 1) % shades.length]};
  });
  var narrow = window.matchMedia("(max-width: 640px)").matches;
  var layout = {
    barmode: "stack",
    margin: {l: 40, r: 8, t: 8, b: narrow ? 40 : 56},
    xaxis: {type: "category", title: narrow ? "" : {text: data.x_title}, automargin: true},
    yaxis: {title: narrow ? "" : {text: data.y_title}, rangemode: "tozero", tickformat: ",d"},
    legend: {orientation: "h", y: -0.2},
    hovermode: "closest",
    font: {family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
  };
  Plotly.newPlot(chart, data.traces, layout, {responsive: true, displayModeBar: false})
    .then(function () {
      chart.on("plotly_click", function (event) {
        var url = event.points.length && event.points[0].customdata;
        if (url) {
          window.location.assign(url);
        }
      });
      chart.dataset.ready = "true";
    });
})();
