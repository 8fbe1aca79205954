// The lead list's filters push their address, and one search can send the same request twice:
// the search box's delayed "input" trigger and Enter's "submit". An answer for the address
// already shown replaces its history entry instead of adding an identical one, so one Back
// leaves the search.
(function () {
  "use strict";
  document.body.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    var update = event.detail.history;
    if (update.type === "push" && update.path === location.pathname + location.search) {
      update.type = "replace";
    }
  });
})();
