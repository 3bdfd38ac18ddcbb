// Lesson player videos: count the seconds actually played and report them to
// the server every 15 s (and when the page is left). The server adds them up,
// caps them by the time that really passed, and completes the video at 90 %.
// Uploaded files use the <video> element's events; YouTube and Vimeo embeds
// use their players' postMessage APIs (no third-party script, CSP stays 'self').
(function () {
  "use strict";

  var REPORT_EVERY_MS = 15000;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function Tracker(figure) {
    this.figure = figure;
    this.url = figure.getAttribute("data-report-url");
    this.statusId = figure.getAttribute("data-status");
    this.played = 0;      // seconds played, not yet reported
    this.lastTime = null; // last known position of the player
    this.done = false;
  }

  // A jump of more than 2 s is a seek, not playing.
  Tracker.prototype.position = function (seconds, playing) {
    if (playing && this.lastTime !== null) {
      var step = seconds - this.lastTime;
      if (step > 0 && step < 2) { this.played += step; }
    }
    this.lastTime = seconds;
  };

  Tracker.prototype.report = function (leaving) {
    var whole = Math.floor(this.played);
    if (this.done || whole < 1) { return; }
    this.played -= whole;
    var body = new FormData();
    body.append("seconds", String(whole));
    var self = this;
    fetch(this.url, {
      method: "POST", body: body, credentials: "same-origin", keepalive: !!leaving,
      headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true"}
    }).then(function (response) {
      if (!response.ok) { return null; }
      return response.text();
    }).then(function (html) {
      if (!html || leaving) { return; }
      self.showStatus(html);
    }).catch(function () {
      self.played += whole; // offline: send these seconds with the next report
    });
  };

  // The answer is the exercise's status block plus the lesson bar (out of band).
  Tracker.prototype.showStatus = function (html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var ids = [this.statusId, "lesson-progress"];
    for (var i = 0; i < ids.length; i++) {
      var fresh = template.content.getElementById(ids[i]);
      var old = document.getElementById(ids[i]);
      if (fresh && old) {
        fresh.removeAttribute("hx-swap-oob");
        old.replaceWith(fresh);
        if (window.htmx) { window.htmx.process(fresh); }
      }
    }
    var status = document.getElementById(this.statusId);
    if (status && status.querySelector(".status-published")) { this.done = true; }
  };

  function trackFile(tracker, video) {
    video.addEventListener("timeupdate", function () {
      tracker.position(video.currentTime, !video.paused && !video.seeking);
    });
    video.addEventListener("seeking", function () { tracker.lastTime = null; });
    video.addEventListener("pause", function () { tracker.report(false); });
    video.addEventListener("ended", function () { tracker.report(false); });
  }

  function trackYouTube(tracker, frame) {
    var playing = false;
    frame.addEventListener("load", function () {
      frame.contentWindow.postMessage(JSON.stringify({event: "listening", id: frame.id, channel: "widget"}), "*");
    });
    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow || !/youtube(-nocookie)?\.com$/.test(new URL(event.origin).hostname)) { return; }
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (!data || data.event !== "infoDelivery" || !data.info) { return; }
      if (typeof data.info.playerState === "number") { playing = data.info.playerState === 1; }
      if (typeof data.info.currentTime === "number") { tracker.position(data.info.currentTime, playing); }
    });
  }

  function trackVimeo(tracker, frame) {
    frame.addEventListener("load", function () {
      ["timeupdate", "pause"].forEach(function (name) {
        frame.contentWindow.postMessage(JSON.stringify({method: "addEventListener", value: name}), "https://player.vimeo.com");
      });
    });
    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow || event.origin !== "https://player.vimeo.com") { return; }
      var data;
      try { data = typeof event.data === "string" ? JSON.parse(event.data) : event.data; } catch (e) { return; }
      if (!data) { return; }
      if (data.event === "timeupdate" && data.data) { tracker.position(data.data.seconds, true); }
      if (data.event === "pause") { tracker.lastTime = null; tracker.report(false); }
    });
  }

  function start() {
    var figures = document.querySelectorAll("[data-video-progress]");
    var trackers = [];
    Array.prototype.forEach.call(figures, function (figure, index) {
      var tracker = new Tracker(figure);
      var provider = figure.getAttribute("data-provider");
      var video = figure.querySelector("video");
      var frame = figure.querySelector("iframe");
      if (video) {
        trackFile(tracker, video);
      } else if (frame && provider === "youtube") {
        frame.id = frame.id || "video-frame-" + index;
        trackYouTube(tracker, frame);
      } else if (frame && provider === "vimeo") {
        trackVimeo(tracker, frame);
      } else {
        return;
      }
      trackers.push(tracker);
    });
    if (!trackers.length) { return; }
    setInterval(function () { trackers.forEach(function (t) { t.report(false); }); }, REPORT_EVERY_MS);
    window.addEventListener("pagehide", function () { trackers.forEach(function (t) { t.report(true); }); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
