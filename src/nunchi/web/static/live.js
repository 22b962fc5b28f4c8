/* nunchi live pages: an element with data-live="URL" listens to that server-sent-events stream.
   Events:
     html    {"html": "...", "target": "id"?}  replaces the inner HTML of data-live-target (or of
             the element), then lets htmx process it (the HTML is rendered and escaped by the server)
     chart   {"id": "...", "data": {...}} or {"id": "...", "append": [...], "max": n}
             handed to window.nunchiCharts (the chart macro's script)
     figure  {"name": "...", "value": "..."}  sets the text of [data-figure=name]
   The browser's EventSource reconnects by itself after a dropped or ended stream and sends the
   id of the last event it got (Last-Event-ID): the server resumes from there. */
(function () {
  "use strict";

  function replace(target, html) {
    if (!target) return;
    target.innerHTML = html;
    if (window.htmx) window.htmx.process(target);
  }

  function connect(el) {
    if (el.nunchiLive) return;
    var source = new EventSource(el.getAttribute("data-live"));
    el.nunchiLive = source;
    el.setAttribute("data-live-state", "connecting");
    source.onopen = function () { el.setAttribute("data-live-state", "open"); };
    source.onerror = function () { el.setAttribute("data-live-state", "reconnecting"); };
    source.addEventListener("html", function (e) {
      var d = JSON.parse(e.data);
      var id = d.target || el.getAttribute("data-live-target");
      replace(id ? document.getElementById(id) : el, d.html);
      el.setAttribute("data-live-last", e.lastEventId || "");
    });
    source.addEventListener("chart", function (e) {
      var d = JSON.parse(e.data);
      if (!window.nunchiCharts) return;
      if (d.append) window.nunchiCharts.append(d.id, d.append, { max: d.max });
      else window.nunchiCharts.update(d.id, d.data);
    });
    source.addEventListener("figure", function (e) {
      var d = JSON.parse(e.data);
      document.querySelectorAll('[data-figure="' + CSS.escape(d.name) + '"]').forEach(function (n) {
        n.textContent = d.value;
      });
    });
  }

  function scan(root) {
    if (root.matches && root.matches("[data-live]")) connect(root);
    root.querySelectorAll("[data-live]").forEach(connect);
  }

  function stop() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      if (el.nunchiLive) { el.nunchiLive.close(); el.nunchiLive = null; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (e) { scan(e.target); });
  window.addEventListener("pagehide", stop);
})();
