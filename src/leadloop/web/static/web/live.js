// Live notifications (GET /events/): a toast with a link to what it is about, a short beep, and the
// unread count in the page title and the bell badge. Each notification is also dispatched on
// <body> as a "live-notification" event, so a page can refresh itself (the queue does).
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || !window.EventSource) {
    return;
  }
  var TOAST_MS = 20000;
  var LINK_TEXTS = { lead: root.dataset.open, queue: root.dataset.openQueue };
  var title = document.title.replace(/^\(\d+\) /, "");
  var audio = null;

  function showUnread(count) {
    document.title = count > 0 ? "(" + count + ") " + title : title;
    var badge = document.querySelector(".bell .badge");
    if (badge) {
      badge.textContent = String(count);
      badge.dataset.unread = String(count);
      badge.classList.toggle("zero", count === 0);
    }
  }

  // Browsers start sound only after the person touched the page once.
  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      audio = new Context();
    }
    if (audio && audio.state === "suspended") {
      audio.resume();
    }
  }
  document.addEventListener("pointerdown", unlockAudio, {once: true});
  document.addEventListener("keydown", unlockAudio, {once: true});

  function beep() {
    unlockAudio();
    if (!audio) {
      return;
    }
    var start = audio.currentTime;
    var tone = audio.createOscillator();
    var volume = audio.createGain();
    tone.type = "sine";
    tone.frequency.setValueAtTime(880, start);
    tone.frequency.setValueAtTime(1175, start + 0.12);
    volume.gain.setValueAtTime(0.0001, start);
    volume.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, start + 0.3);
    tone.connect(volume).connect(audio.destination);
    tone.start(start);
    tone.stop(start + 0.32);
  }

  function toast(note) {
    var box = document.createElement("div");
    box.className = "toast kind-" + note.kind;
    box.setAttribute("role", "status");
    var text = document.createElement("p");
    text.textContent = note.message;
    box.appendChild(text);
    if (note.url) {
      var link = document.createElement("a");
      link.href = note.url;
      link.textContent = LINK_TEXTS[note.opens] || root.dataset.open;
      box.appendChild(link);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.setAttribute("aria-label", root.dataset.close);
    close.textContent = "×";
    close.addEventListener("click", function () {
      box.remove();
    });
    box.appendChild(close);
    root.appendChild(box);
    window.setTimeout(function () {
      box.remove();
    }, TOAST_MS);
  }

  var stream = new EventSource(root.dataset.stream);
  stream.addEventListener("unread", function (event) {
    showUnread(JSON.parse(event.data).unread);
  });
  stream.addEventListener("notification", function (event) {
    var note = JSON.parse(event.data);
    showUnread(note.unread);
    toast(note);
    beep();
    document.body.dispatchEvent(new CustomEvent("live-notification", {detail: note}));
  });
})();
