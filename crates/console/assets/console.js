// The operator console's live updates: a progressive enhancement. Without JavaScript (or without
// EventSource) every page works as it is, and reloading it shows the same as an update would.
//
// The server sends one `grant` event per committed transition (from the change feed). The list
// replaces the changed grant's row with a fresh one; a grant's page replaces its heading and its
// live part (facts, actions, timeline, diagram). Versions only move forward: an older answer
// never replaces a newer one.
(function () {
  "use strict";
  var list = document.querySelector('[data-live="list"]');
  var grant = document.querySelector('[data-live="grant"]');
  if ((!list && !grant) || !window.EventSource || !window.fetch) return;
  var base = document.body.getAttribute("data-base") || "";
  var status = document.querySelector(".live");
  function say(text) { if (status) status.textContent = text; }
  function version(el) { return Number(el.getAttribute("data-version")) || 0; }

  function refreshRow(change) {
    var row = document.getElementById("grant-" + change.grant);
    if (!row && change.from === "Initial") {
      say("New grant " + change.grant.slice(0, 8) + " (" + change.kind + "): reload to list it.");
    }
    if (!row || version(row) >= change.version) return;
    fetch(base + "/grants/" + change.grant + "/row", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("tbody");
        holder.innerHTML = html;
        var fresh = holder.querySelector("tr");
        var current = document.getElementById("grant-" + change.grant);
        if (!fresh || !current || version(fresh) <= version(current)) return;
        fresh.classList.add("flash");
        current.replaceWith(fresh);
        say("Grant " + change.grant.slice(0, 8) + " is now " + change.kind + ".");
      });
  }

  function refreshGrant(change) {
    if (grant.getAttribute("data-grant") !== change.grant || version(grant) >= change.version) return;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector('[data-live="grant"]');
        if (!fresh || version(fresh) <= version(grant)) return;
        var heading = doc.querySelector("main h1");
        if (heading) document.querySelector("main h1").replaceWith(heading);
        grant.replaceWith(fresh);
        grant = fresh;
        status = grant.querySelector(".live");
        say("Updated: the grant is now " + change.kind + " (version " + change.version + ").");
      });
  }

  var source = new EventSource(base + "/events");
  source.addEventListener("open", function () { say("Live: changes appear as they happen."); });
  source.addEventListener("error", function () { say("Live updates interrupted; reconnecting…"); });
  source.addEventListener("grant", function (e) {
    var change;
    try { change = JSON.parse(e.data); } catch (_) { return; }
    if (list) refreshRow(change);
    if (grant) refreshGrant(change);
  });
})();
