// Ask before what cannot be undone: a form or its button with data-confirm asks each time; a
// checkbox with data-confirm-unchecked asks when it was ticked and is sent unticked (deactivating
// a member). Without JavaScript the forms work as before, without the question.
document.addEventListener("submit", function (event) {
  "use strict";
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
