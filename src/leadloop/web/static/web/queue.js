// The queue's countdowns: the time left until each lead's next obligation, red once overdue.
// They count on the server's clock: the list says what time it was when it was rendered.
(function () {
  "use strict";
  var list = null;
  var skew = 0;

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function duration(seconds, units) {
    var days = Math.floor(seconds / 86400);
    if (days >= 1) {  // a day or more: days and hours say enough, in the page's language
      return days + " " + units.days + " " + Math.floor((seconds % 86400) / 3600) + " " +
        units.hours;
    }
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function tick() {
    var queue = document.getElementById("queue");
    if (!queue) {
      return;
    }
    if (queue !== list) {  // rendered again (HTMX): take its clock
      list = queue;
      skew = Number(queue.dataset.now) * 1000 - Date.now();
    }
    var now = (Date.now() + skew) / 1000;
    queue.querySelectorAll(".countdown[data-due]").forEach(function (clock) {
      var left = Math.round(Number(clock.dataset.due) - now);
      var overdue = left < 0;
      clock.textContent = (overdue ? queue.dataset.overdue : queue.dataset.dueIn) + " " +
        duration(Math.abs(left), queue.dataset);
      clock.classList.toggle("overdue", overdue);
      clock.closest(".queue-item").classList.toggle("overdue", overdue);
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
