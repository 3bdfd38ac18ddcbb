// Attendance grid: every tap is saved at once; a tap that cannot be sent (no
// connection) is kept in the page and sent again, in order, when the
// connection returns. Each tap carries its own idempotency key, so a tap sent
// twice (a lost answer, a retry) is counted once by the server.
(function () {
  "use strict";

  var sheet = null;
  var queue = [];       // taps not yet confirmed, oldest first
  var sending = false;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  function row(enrollmentId) { return document.getElementById("row-" + enrollmentId); }

  function setState(enrollmentId, state, text) {
    var element = row(enrollmentId);
    if (!element) { return; }
    element.setAttribute("data-state", state);
    var status = element.querySelector(".att-state");
    if (status) { status.textContent = text || ""; }
  }

  function showConnection() {
    var banner = document.getElementById("connection-status");
    if (!banner) { return; }
    var waiting = queue.length > 0 && !navigator.onLine;
    banner.hidden = !waiting && navigator.onLine;
    banner.textContent = sheet.getAttribute("data-offline-text");
  }

  function tapFor(element) {
    var id = element.getAttribute("data-enrollment");
    var checked = element.querySelector("input[type=radio]:checked");
    if (!checked) { return null; }
    var note = element.querySelector(".att-note");
    return {
      enrollment_id: id,
      meeting_number: sheet.querySelector("input[name=meeting_number]").value,
      meeting_date: (sheet.querySelector("input[name=meeting_date]") || {}).value || "",
      status: checked.value,
      note: note ? note.value : "",
      key: newKey()
    };
  }

  function enqueue(element) {
    var tap = tapFor(element);
    if (!tap) { return; }
    // A newer tap for the same student replaces one still waiting: only the last choice matters.
    queue = queue.filter(function (t) { return t.enrollment_id !== tap.enrollment_id || t.inFlight; });
    queue.push(tap);
    setState(tap.enrollment_id, "pending", navigator.onLine ? sheet.getAttribute("data-saving-text")
                                                           : sheet.getAttribute("data-pending-text"));
    showConnection();
    flush();
  }

  function flush() {
    if (sending || queue.length === 0 || !navigator.onLine) { showConnection(); return; }
    sending = true;
    var tap = queue[0];
    tap.inFlight = true;
    var body = new URLSearchParams();
    ["enrollment_id", "meeting_number", "meeting_date", "status", "note", "key"].forEach(function (name) {
      body.append(name, tap[name]);
    });
    fetch(sheet.getAttribute("data-mark-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: {"HX-Request": "true", "X-CSRFToken": csrfToken()}
    }).then(function (response) {
      return response.text().then(function (html) { return {response: response, html: html}; });
    }).then(function (answer) {
      var status = answer.response.status;
      if (status === 204 && answer.response.headers.get("HX-Redirect")) {
        window.location = answer.response.headers.get("HX-Redirect");  // signed out meanwhile
        return;
      }
      queue.shift();
      var waitingForSameRow = queue.some(function (t) { return t.enrollment_id === tap.enrollment_id; });
      if (!waitingForSameRow && (status === 200 || status === 409 || status === 422)) {
        var old = row(tap.enrollment_id);
        if (old) { old.outerHTML = answer.html; }  // the server's row: credits left, saved or refused
      }
      sending = false;
      flush();
    }).catch(function () {
      // No answer: keep the tap (same key) and try again when the connection returns.
      tap.inFlight = false;
      sending = false;
      setState(tap.enrollment_id, "pending", sheet.getAttribute("data-pending-text"));
      showConnection();
      window.setTimeout(flush, 3000);
    });
  }

  function start() {
    sheet = document.getElementById("attendance-sheet");
    if (!sheet) { return; }
    document.addEventListener("change", function (event) {
      var target = event.target;
      if (!sheet || !sheet.contains(target)) { return; }
      var element = target.closest(".att-row");
      if (element && (target.type === "radio" || target.classList.contains("att-note"))) { enqueue(element); }
    });
    var select = document.getElementById("meeting-select");
    if (select) { select.addEventListener("change", function () { select.form.submit(); }); }
    window.addEventListener("online", flush);
    window.addEventListener("offline", showConnection);
    // "Mark all present" swaps the whole sheet: find the new one.
    document.body.addEventListener("htmx:afterSwap", function () {
      sheet = document.getElementById("attendance-sheet");
    });
    window.addEventListener("beforeunload", function (event) {
      if (queue.length > 0) { event.preventDefault(); event.returnValue = ""; }
    });
    window.babyowlAttendance = {pending: function () { return queue.length; }};
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
