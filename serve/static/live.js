// flowscheme dashboard: live refresh over server-sent events, and the resume /
// cancel forms sent with the admin token as a Bearer header. The pages are
// complete without this file; it only keeps them current.
(function () {
  "use strict";
  var body = document.body;
  var source = body.getAttribute("data-events");
  var state = document.getElementById("live-state");
  var seq = parseInt(body.getAttribute("data-seq") || "0", 10) || 0;
  var watch = body.getAttribute("data-watch");  // a flow or order page: only its own changes matter
  var busy = false, again = false, timer = null, refreshes = 0, lastDone = 0;
  var GAP = 1000;  // ms at least between two refreshes: a busy shop does not make every page re-read all the time

  function say(text, mode) {
    if (state) { state.textContent = text; }
    body.setAttribute("data-live-state", mode);
  }

  // Re-read this page and swap in the new content of its [data-live] regions.
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var regions = document.querySelectorAll("[data-live][id]");
        for (var i = 0; i < regions.length; i++) {
          var fresh = doc.getElementById(regions[i].id);
          if (fresh && fresh.innerHTML !== regions[i].innerHTML) { regions[i].innerHTML = fresh.innerHTML; }
        }
        followActions(doc);
        var title = doc.querySelector("h1");
        var mine = document.querySelector("h1");
        if (title && mine && title.innerHTML !== mine.innerHTML) { mine.innerHTML = title.innerHTML; }
        var s = parseInt(doc.body.getAttribute("data-seq") || "0", 10);
        if (s > seq) { seq = s; }
        refreshes += 1;
        body.setAttribute("data-refreshes", String(refreshes));
        say("Live · updated " + new Date().toLocaleTimeString(), "live");
      })
      .catch(function (e) { say("Could not refresh (" + e.message + ")", "stale"); })
      .then(function () { busy = false; lastDone = Date.now(); if (again) { again = false; schedule(); } });
  }

  // The resume / cancel forms are not swapped while someone may be typing in them:
  // they go when the flow no longer waits, and their request key follows the flow.
  function followActions(doc) {
    var mine = document.getElementById("actions"), fresh = doc.getElementById("actions");
    if (!mine || !fresh) { return; }
    var forms = document.getElementById("action-forms");
    if (!fresh.querySelector("form")) {
      var result = document.getElementById("action-result");
      var said = result ? result.textContent : "", how = result ? result.className : "";
      mine.innerHTML = fresh.innerHTML;
      var shown = document.getElementById("action-result");
      if (shown && said) { shown.textContent = said; shown.className = how; }
      return;
    }
    var key = fresh.querySelector("input[name=key]"), myKey = mine.querySelector("input[name=key]");
    if (key && myKey) { myKey.value = key.value; }
    if (forms) { forms.hidden = false; }
  }

  function schedule() {
    if (timer !== null) { return; }
    var wait = Math.max(150, GAP - (Date.now() - lastDone));
    timer = setTimeout(function () { timer = null; refresh(); }, wait);
  }

  if (source && window.EventSource) {
    var events = new EventSource(source);
    events.addEventListener("hello", function (e) {
      var now = JSON.parse(e.data).seq;
      say("Live", "live");
      if (now > seq) { schedule(); }  // something changed between rendering and listening
    });
    events.addEventListener("change", function (e) {
      var change = JSON.parse(e.data);
      if (change.seq <= seq) { return; }
      if (watch === null || change.type === "resync" || String(change.id) === watch) { schedule(); }
    });
    events.onerror = function () { say("Reconnecting…", "reconnecting"); };
    window.addEventListener("pagehide", function () { events.close(); });
  }

  // Resume / cancel: the JSON API wants the token in an Authorization header
  // (so the forms are shown only when this script runs).
  var holder = document.getElementById("action-forms");
  if (holder) { holder.hidden = false; }
  document.addEventListener("submit", function (ev) {
    if (ev.target.matches && ev.target.matches("form[data-action]")) { send(ev); }
  });

  function send(ev) {
    ev.preventDefault();
    var form = ev.target, out = document.getElementById("action-result");
    var action = form.getAttribute("data-action"), payload = {};
    if (action === "resume") {
      var text = form.elements.answer.value.trim();
      try { payload.value = text === "" ? null : JSON.parse(text); }
      catch (e) { report(out, "The answer is not JSON: " + e.message, false); form.elements.answer.focus(); return; }
      payload.key = form.elements.key.value;
    }
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin",
      headers: { "Authorization": "Bearer " + form.elements.token.value, "Content-Type": "application/json",
                 "Accept": "application/json" },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          var now = data.state || data.status || "done";
          report(out, (action === "resume" ? "Resumed" : "Cancelled") + ": the flow is now " + now + ".", true);
          if (data.key && form.elements.key) { form.elements.key.value = data.key; }
        } else {
          report(out, "Refused (HTTP " + r.status + "): " + (data.error || data.detail || data.message || r.statusText), false);
        }
        schedule();
      });
    }).catch(function (e) { report(out, "Not sent: " + e.message, false); });
  }

  function report(out, text, ok) {
    if (!out) { return; }
    out.textContent = text;
    out.className = "action-result " + (ok ? "ok" : "refused");
  }
})();
