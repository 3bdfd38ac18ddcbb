// Attendance sheet: every tap (and "mark all present") is queued, saved at once
// and never dropped silently.
// - The queue lives in localStorage, one per class and meeting, so closing the
//   tab or a crash keeps it; reopening the sheet sends what is left. Each item
//   keeps its idempotency key, so an item the server already applied (the
//   answer was lost) counts once when it is sent again.
// - No connection, 429 or 5xx: kept and retried with backoff (at once when the
//   browser says it is back online).
// - 400 (the CSRF token expired on a tablet left open): a fresh token is
//   fetched and the item sent again.
// - 403/404: the row says plainly why it cannot be saved; no more retries (the
//   item stays on the tablet and is tried again when the sheet is reopened).
// - 409/422: the server refused the mark for a reason it explains in the row
//   it sends back; that answer is final.
(function () {
  "use strict";

  var BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  var MAX_TOKEN_RETRIES = 2;
  var sheet = null;
  var queue = [];       // items not yet answered for good, oldest first
  var sending = false;
  var retryTimer = null;
  var token = null;

  function text(name) { return sheet.getAttribute("data-" + name + "-text") || ""; }

  function csrfToken() {
    if (token) { return token; }
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function useToken(fresh) {
    token = fresh;
    // htmx requests and the plain form post carry the fresh token too.
    document.body.setAttribute("hx-headers", JSON.stringify({"X-CSRFToken": fresh}));
    document.querySelectorAll("input[name=csrf_token]").forEach(function (input) { input.value = fresh; });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  // ---- the stored queue -------------------------------------------------

  function storageName() { return "babyowl-attendance:" + sheet.getAttribute("data-queue-name"); }

  function store() {
    try {
      if (queue.length) {
        localStorage.setItem(storageName(), JSON.stringify(queue.map(function (item) {
          var copy = {};
          Object.keys(item).forEach(function (k) { if (k !== "inFlight") { copy[k] = item[k]; } });
          return copy;
        })));
      } else {
        localStorage.removeItem(storageName());
      }
    } catch (e) { /* storage full or disabled: the queue still lives in the page */ }
  }

  function restore() {
    try {
      var stored = JSON.parse(localStorage.getItem(storageName()) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (e) {
      return [];
    }
  }

  // ---- the rows ---------------------------------------------------------

  function row(enrollmentId) { return document.getElementById("row-" + enrollmentId); }

  function rows() { return Array.prototype.slice.call(sheet.querySelectorAll(".att-row")); }

  function queuedTap(enrollmentId) {
    for (var i = queue.length - 1; i >= 0; i--) {
      if (queue[i].kind === "tap" && queue[i].enrollment_id === enrollmentId) { return queue[i]; }
    }
    return null;
  }

  function setState(element, state, message) {
    element.setAttribute("data-state", state);
    var status = element.querySelector(".att-state");
    if (status) { status.textContent = message || ""; }
  }

  function itemText(item) {
    if (item.blocked) { return item.message; }
    if (!navigator.onLine || item.reason === "offline") { return text("pending"); }
    if (item.reason === "retry") { return text("retry"); }
    return text("saving");
  }

  function paint() {
    var allWaiting = null;
    queue.forEach(function (item) {
      if (item.kind === "all") {
        if (!item.blocked) { allWaiting = allWaiting || item; }
        return;
      }
      var element = row(item.enrollment_id);
      if (element && queuedTap(item.enrollment_id) === item) {
        setState(element, item.blocked ? "blocked" : "pending", itemText(item));
      }
    });
    if (allWaiting) {
      rows().forEach(function (element) {
        var id = element.getAttribute("data-enrollment");
        if (!queuedTap(id) && !element.querySelector("input[type=radio]:checked")) {
          setState(element, "pending", text("all-row"));
        }
      });
    }
    var banner = document.getElementById("connection-status");
    if (banner) {
      var waitingOffline = queue.some(function (item) { return !item.blocked && item.reason === "offline"; });
      banner.hidden = navigator.onLine && !waitingOffline;
      banner.textContent = text("offline") + (allWaiting ? " " + text("all-pending") : "");
    }
    updateTally();
  }

  function updateTally() {
    var counts = {present: 0, late: 0, absent: 0, unmarked: 0};
    var firstUnmarked = null;
    rows().forEach(function (element) {
      var checked = element.querySelector("input[type=radio]:checked");
      if (checked && counts.hasOwnProperty(checked.value)) {
        counts[checked.value] += 1;
      } else {
        counts.unmarked += 1;
        firstUnmarked = firstUnmarked || element;
      }
    });
    counts.credits = counts.present + counts.late;
    Object.keys(counts).forEach(function (name) {
      var cell = sheet.querySelector("#tally [data-count=" + name + "]");
      if (cell) { cell.textContent = String(counts[name]); }
    });
    var jump = document.getElementById("jump-unmarked");
    if (jump) {
      jump.hidden = !firstUnmarked;
      jump.setAttribute("href", firstUnmarked ? "#" + firstUnmarked.id : "#");
    }
  }

  // Swap in the server's row, and give focus back to the same choice when it was in the row.
  function replaceRow(old, html) {
    var active = document.activeElement;
    var hadFocus = active && old.contains(active);
    var value = hadFocus && active.type === "radio" ? active.value : null;
    var wasNote = hadFocus && active.classList.contains("att-note");
    var id = old.id;
    old.outerHTML = html;
    var fresh = document.getElementById(id);
    if (hadFocus && fresh) {
      var target = wasNote ? fresh.querySelector(".att-note")
        : fresh.querySelector("input[type=radio][value='" + value + "']") ||
          fresh.querySelector("input[type=radio]:checked") || fresh.querySelector("input[type=radio]");
      if (target) { target.focus({preventScroll: true}); }
    }
  }

  // ---- taking taps ------------------------------------------------------

  function meetingFields() {
    return {
      meeting_number: sheet.querySelector("input[name=meeting_number]").value,
      meeting_date: (sheet.querySelector("input[name=meeting_date]") || {}).value || ""
    };
  }

  function tapFor(element) {
    var checked = element.querySelector("input[type=radio]:checked");
    if (!checked) { return null; }
    var note = element.querySelector(".att-note");
    var fields = meetingFields();
    return {
      kind: "tap",
      enrollment_id: element.getAttribute("data-enrollment"),
      meeting_number: fields.meeting_number,
      meeting_date: fields.meeting_date,
      status: checked.value,
      note: note ? note.value : "",
      key: newKey(),
      attempts: 0
    };
  }

  function enqueue(item) {
    if (item.kind === "tap") {
      // A newer tap for the same student replaces one still waiting: only the last choice matters.
      queue = queue.filter(function (t) {
        return t.kind !== "tap" || t.enrollment_id !== item.enrollment_id || t.inFlight;
      });
    }
    queue.push(item);
    store();
    paint();
    flush();
  }

  // ---- sending ----------------------------------------------------------

  function nextItem() {
    for (var i = 0; i < queue.length; i++) {
      if (!queue[i].blocked) { return queue[i]; }
    }
    return null;
  }

  function body(item) {
    var names = item.kind === "all" ? ["meeting_number", "meeting_date", "key"]
      : ["enrollment_id", "meeting_number", "meeting_date", "status", "note", "key"];
    var data = new URLSearchParams();
    names.forEach(function (name) { data.append(name, item[name] == null ? "" : item[name]); });
    return data;
  }

  function later(item, reason, waitMs) {
    item.inFlight = false;
    item.reason = reason;
    item.attempts = (item.attempts || 0) + 1;
    var delay = waitMs || BACKOFF_MS[Math.min(item.attempts - 1, BACKOFF_MS.length - 1)];
    store();
    paint();
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(flush, delay);
  }

  function done(item) {
    queue = queue.filter(function (t) { return t !== item; });
    store();
  }

  function block(item, message) {
    item.inFlight = false;
    item.blocked = true;
    item.message = message;
    store();
    if (item.kind === "all") { confirm(message, true); }
  }

  function confirm(message, isError) {
    var confirmation = document.getElementById("sheet-confirmation");
    if (!confirmation) { return; }
    confirmation.textContent = message;
    confirmation.className = isError ? "flash flash-error" : "flash flash-success";
    confirmation.setAttribute("role", isError ? "alert" : "status");
    confirmation.hidden = false;
  }

  function flush() {
    window.clearTimeout(retryTimer);
    if (sending) { return; }
    var item = nextItem();
    if (!item || !navigator.onLine) {
      if (item) { item.reason = "offline"; }
      paint();
      return;
    }
    sending = true;
    item.inFlight = true;
    item.reason = null;
    paint();
    var url = sheet.getAttribute(item.kind === "all" ? "data-all-url" : "data-mark-url");
    fetch(url, {
      method: "POST",
      body: body(item),
      credentials: "same-origin",
      headers: {"HX-Request": "true", "X-CSRFToken": csrfToken()}
    }).then(function (response) {
      return response.text().then(function (html) { return {response: response, html: html}; });
    }).then(function (answer) {
      sending = false;
      answered(item, answer.response, answer.html);
    }, function () {
      // No answer (offline, connection dropped): the server may or may not have it; the key makes a resend safe.
      sending = false;
      later(item, navigator.onLine ? "retry" : "offline");
    });
  }

  function answered(item, response, html) {
    var status = response.status;
    if (status === 204 && response.headers.get("HX-Redirect")) {
      item.inFlight = false;
      store();  // signed out meanwhile: the queue waits on this tablet for the next sign-in
      window.location = response.headers.get("HX-Redirect");
      return;
    }
    if (status === 200 || status === 409 || status === 422) {
      done(item);
      if (item.kind === "all") {
        applySheet(html, status !== 200);
      } else if (!queuedTap(item.enrollment_id)) {
        var old = row(item.enrollment_id);
        if (old) { replaceRow(old, html); }  // the server's row: credits left, saved or refused
      }
      paint();
      flush();
      return;
    }
    if (status === 400 && (item.tokenRetries || 0) < MAX_TOKEN_RETRIES) {
      item.tokenRetries = (item.tokenRetries || 0) + 1;
      item.inFlight = false;
      refreshToken().then(flush, function () { later(item, "retry"); });
      return;
    }
    if (status === 400) {
      block(item, text("expired"));
    } else if (status === 403 || status === 404) {
      block(item, text("forbidden"));
    } else {
      var wait = parseInt(response.headers.get("Retry-After") || "", 10);
      later(item, "retry", wait > 0 ? Math.min(wait, 60) * 1000 : 0);
      return;
    }
    paint();
    flush();
  }

  function refreshToken() {
    return fetch(sheet.getAttribute("data-token-url"), {
      credentials: "same-origin", headers: {"HX-Request": "true"}, cache: "no-store"
    }).then(function (response) {
      if (response.status === 204 && response.headers.get("HX-Redirect")) {
        store();
        window.location = response.headers.get("HX-Redirect");
        throw new Error("signed out");
      }
      if (!response.ok) { throw new Error("no token"); }
      return response.json();
    }).then(function (answer) { useToken(answer.token); });
  }

  // "Mark all present" answered: take the server's rows, except those with a tap still queued.
  function applySheet(html, refused) {
    var answer = new DOMParser().parseFromString(html, "text/html");
    answer.querySelectorAll(".att-row").forEach(function (fresh) {
      var id = fresh.getAttribute("data-enrollment");
      var old = row(id);
      if (old && !queuedTap(id)) { replaceRow(old, fresh.outerHTML); }
    });
    var date = answer.querySelector("input[name=meeting_date]");
    var mine = sheet.querySelector("input[name=meeting_date]");
    if (date && mine) { mine.value = date.value; mine.readOnly = date.readOnly; }
    var message = refused ? answer.querySelector(".form-error") : answer.querySelector("#sheet-confirmation");
    if (message) { confirm(message.textContent.trim(), refused); }
  }

  // ---- start ------------------------------------------------------------

  function start() {
    sheet = document.getElementById("attendance-sheet");
    if (!sheet) { return; }
    document.addEventListener("change", function (event) {
      var target = event.target;
      if (!sheet.contains(target)) { return; }
      var element = target.closest(".att-row");
      if (element && (target.type === "radio" || target.classList.contains("att-note"))) {
        var tap = tapFor(element);
        if (tap) { enqueue(tap); }
      }
    });
    var markAll = document.getElementById("mark-all");
    if (markAll) {
      markAll.addEventListener("click", function (event) {
        event.preventDefault();
        var fields = meetingFields();
        enqueue({kind: "all", meeting_number: fields.meeting_number, meeting_date: fields.meeting_date,
                 key: newKey(), attempts: 0});
      });
    }
    var jump = document.getElementById("jump-unmarked");
    if (jump) {
      jump.addEventListener("click", function (event) {
        var target = document.querySelector(jump.getAttribute("href"));
        if (!target) { return; }
        event.preventDefault();
        target.scrollIntoView({block: "center"});
        var first = target.querySelector("input[type=radio]");
        (first || target).focus({preventScroll: true});
      });
    }
    var select = document.getElementById("meeting-select");
    if (select) { select.addEventListener("change", function () { select.form.submit(); }); }
    window.addEventListener("online", flush);
    window.addEventListener("offline", paint);
    window.addEventListener("beforeunload", function (event) {
      if (queue.some(function (item) { return !item.blocked; })) { event.preventDefault(); event.returnValue = ""; }
    });
    // Taps kept from an earlier visit: show them on their rows, then send them (same keys).
    queue = restore();
    queue.forEach(function (item) {
      item.blocked = false;
      item.tokenRetries = 0;
      if (item.kind === "tap" && row(item.enrollment_id)) {
        var radio = row(item.enrollment_id).querySelector("input[type=radio][value='" + item.status + "']");
        if (radio) { radio.checked = true; }
      }
    });
    window.babyowlAttendance = {
      pending: function () { return queue.length; },
      blocked: function () { return queue.filter(function (item) { return item.blocked; }).length; }
    };
    paint();
    flush();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
