// Progressive enhancement for the task pages. Everything works without this file:
// it adds autosave (every 10 s, and when the tab is hidden or closed), digit keys for
// the Likert score, and an active-time counter sent with the submission.
(function () {
  "use strict";
  var form = document.getElementById("task-form");
  if (!form) { return; }
  var draftUrl = form.getAttribute("data-draft");
  var status = form.querySelector(".autosave");
  var activeField = form.querySelector("input[name=active_s]");
  var dirty = false;
  var activeSeconds = 0;
  var lastInput = Date.now();

  function payload() { return new FormData(form); }

  function save() {
    if (!dirty) { return; }
    dirty = false;
    fetch(draftUrl, { method: "POST", body: payload(), headers: { "X-Requested-With": "fetch" },
                      credentials: "same-origin" })
      .then(function (r) {
        // a lapsed session redirects to the login page: that is not a saved draft
        var json = (r.headers.get("content-type") || "").indexOf("application/json") === 0;
        if (!r.ok || r.redirected || !json) { throw new Error("HTTP " + r.status); }
        if (status) { status.textContent = "Draft saved " + new Date().toLocaleTimeString(); }
      })
      .catch(function () {
        dirty = true;
        if (status) { status.textContent = "Draft NOT saved (logged out or offline?): will retry"; }
      });
  }

  function touched() { dirty = true; lastInput = Date.now(); }
  form.addEventListener("input", touched);
  form.addEventListener("change", touched);

  setInterval(save, 10000);
  setInterval(function () {
    // count a second as active when the tab is visible and the labeler acted in the last minute
    if (document.visibilityState === "visible" && Date.now() - lastInput < 60000) { activeSeconds += 1; }
  }, 1000);
  document.addEventListener("keydown", function () { lastInput = Date.now(); });
  document.addEventListener("scroll", function () { lastInput = Date.now(); });

  function beacon() {
    if (dirty && navigator.sendBeacon) { navigator.sendBeacon(draftUrl, payload()); dirty = false; }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { beacon(); }
  });
  window.addEventListener("pagehide", beacon);

  form.addEventListener("submit", function () {
    if (activeField) { activeField.value = String(activeSeconds); }
    dirty = false;
  });

  // Digit keys 1-7 set the Likert score of the output being worked on.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type === "text") || t.tagName === "SELECT")) { return; }
    if (e.key < "1" || e.key > "7" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var sets = form.querySelectorAll("fieldset.output");
    var current = t && t.closest ? t.closest("fieldset.output") : null;
    if (!current) {
      for (var i = 0; i < sets.length; i++) {
        if (!sets[i].querySelector("input[type=radio]:checked")) { current = sets[i]; break; }
      }
    }
    if (!current) { return; }
    var radio = current.querySelector("input[type=radio][value='" + e.key + "']");
    if (radio) { radio.checked = true; radio.focus(); touched(); e.preventDefault(); }
  });
})();
