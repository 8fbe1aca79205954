// What every page does. On a phone the main menu is one row that scrolls sideways: the current
// page's item is brought into it. Forms: a page that comes back with a refused form brings its first error into view (a long
// settings page would leave it below the fold), and what cannot be undone asks first: a form or
// its button with data-confirm asks each time; a checkbox with data-confirm-unchecked asks when
// it was ticked and is sent unticked (deactivating a member). A button with data-copy="#id"
// copies that element's text (a new token's key, a webhook address, a form snippet), or selects
// it where the browser keeps the clipboard to secure pages. Without JavaScript the forms work as
// before, and the copy buttons stay hidden.
(function () {
  "use strict";
  var current = document.querySelector(".mainnav [aria-current]");
  if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
    current.scrollIntoView({ block: "nearest", inline: "center" });
  }
  var refused = document.querySelector("form .field.invalid, form .form-errors");
  if (refused) {
    var details = refused.closest("details");
    if (details) {
      details.open = true;
    }
    refused.scrollIntoView({ block: "center" });
    var input = refused.querySelector("input, select, textarea");
    if (input) {
      input.focus({ preventScroll: true });
    }
  }

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.dataset.copy);
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var label = button.textContent;
      var done = function () {
        button.textContent = button.dataset.copied;
        window.setTimeout(function () {
          button.textContent = label;
        }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent.trim()).then(done, function () {
          select(source);
        });
      } else {
        select(source);
      }
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var asks = [];
    var said = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
    if (said) {
      asks.push(said);
    }
    form.querySelectorAll("input[data-confirm-unchecked]").forEach(function (box) {
      if (box.defaultChecked && !box.checked) {
        asks.push(box.dataset.confirmUnchecked);
      }
    });
    if (asks.length && !window.confirm(asks.join("\n\n"))) {
      event.preventDefault();
    }
  });
})();
