/* nunchi live chat page: follows the broadcast's event stream (server-sent events).
   chat   {"messages": [{id, a (author), t (text), mk (masked), sp (spans, code points),
           p (profane), pol (polarity), k (kind), am (amount), at, d (deleted), r}]}
          drawn as text nodes only (chat text is untrusted: nothing here parses HTML);
          profane words are masked on their exact spans, with a reveal per message and the
          page's "show every masked word" switch.
   chart  {"id", "data"}: handed to window.nunchiCharts (minute chart, word cloud).
   html   {"html", "target"}: figures and offenders, rendered and escaped by the server.
   The browser reconnects by itself and sends the last event id: the server resumes there. */
(function () {
  "use strict";

  var MAX_ROWS = 500;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) { return ""; }
  }

  function text(tag, value, cls) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    node.textContent = value;
    return node;
  }

  /* The original text with its profane spans marked (spans index code points). */
  function original(m) {
    var chars = Array.from(m.t), out = document.createElement("span"), at = 0;
    out.className = "original";
    (m.sp || []).forEach(function (span) {
      if (span[0] > at) out.appendChild(document.createTextNode(chars.slice(at, span[0]).join("")));
      out.appendChild(text("mark", chars.slice(span[0], span[1]).join("")));
      at = Math.max(at, span[1]);
    });
    if (at < chars.length) out.appendChild(document.createTextNode(chars.slice(at).join("")));
    return out;
  }

  function labelButton(page, m, verdict, label) {
    var button = text("button", label, "link label");
    button.type = "button";
    button.addEventListener("click", function () {
      var body = new URLSearchParams({ label: verdict, csrf_token: csrfToken() });
      fetch("/chat/messages/" + m.id + "/label", {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken() },
      }).then(function (r) {
        if (r.ok) button.textContent = page.dataset.labelDone;
      });
    });
    return button;
  }

  function row(page, m) {
    var li = document.createElement("li");
    li.className = "msg pol-" + m.pol + (m.p ? " profane" : "") + (m.d ? " deleted" : "") +
      (m.k !== "chat" ? " kind-" + m.k : "");
    li.dataset.row = m.id;
    li.appendChild(text("time", new Date(m.at).toLocaleTimeString(), "at"));
    li.appendChild(text("span", m.a, "author"));
    var body = document.createElement("span");
    body.className = "body";
    if (m.p) {
      body.appendChild(text("span", m.mk, "masked"));
      body.appendChild(original(m));
      var reveal = text("button", page.dataset.labelReveal, "link reveal");
      reveal.type = "button";
      reveal.addEventListener("click", function () {
        var open = li.classList.toggle("revealed");
        reveal.textContent = open ? page.dataset.labelHide : page.dataset.labelReveal;
      });
      body.appendChild(reveal);
    } else {
      body.appendChild(text("span", m.t, "plain"));
    }
    if (m.am) body.appendChild(text("span", " " + m.am + (m.cur ? " " + m.cur : ""), "amount"));
    li.appendChild(body);
    if (m.d) li.appendChild(text("span", page.dataset.labelDeleted, "muted"));
    li.appendChild(labelButton(page, m, m.p ? "clean" : "profane",
                               m.p ? page.dataset.labelClean : page.dataset.labelProfane));
    return li;
  }

  function start(page) {
    var list = document.getElementById("chat-messages");
    var status = document.getElementById("chat-status");
    var originals = document.getElementById("chat-originals");
    originals.addEventListener("change", function () {
      page.classList.toggle("show-originals", originals.checked);
    });
    var source = new EventSource(page.dataset.chatStream);
    source.onopen = function () { status.textContent = status.dataset.open; };
    source.onerror = function () { status.textContent = status.dataset.lost; };
    source.addEventListener("chat", function (e) {
      var data = JSON.parse(e.data), fragment = document.createDocumentFragment();
      data.messages.forEach(function (m) { fragment.appendChild(row(page, m)); });
      list.appendChild(fragment);
      while (list.children.length > MAX_ROWS) list.removeChild(list.firstChild);
      page.dataset.lastRow = e.lastEventId;
      page.dataset.received = String(Date.now() / 1000);
    });
    source.addEventListener("chart", function (e) {
      var d = JSON.parse(e.data);
      if (window.nunchiCharts) window.nunchiCharts.update(d.id, d.data);
    });
    source.addEventListener("html", function (e) {
      var d = JSON.parse(e.data), target = document.getElementById(d.target);
      if (target) target.innerHTML = d.html;
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.getElementById("chat-page");
    if (page) start(page);
  });
})();
