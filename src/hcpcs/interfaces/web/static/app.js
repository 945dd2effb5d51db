// hcpcs progressive enhancement: every page works without this file.
(function () {
  "use strict";

  // Code page: apply the date, locality and setting as soon as they change.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll("select").forEach(function (el) {
      el.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
    });
  });

  // Search: results as you type, from /api/search; the form still submits normally.
  var form = document.querySelector("form[data-live-search]");
  var box = document.getElementById("live-results");
  if (!form || !box) return;
  var input = form.querySelector("input[type=search]");
  var activeOn = form.querySelector("input[name=active_on]");
  var timer = null, seq = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function render(data) {
    var table = el("table", { "class": "results" });
    var head = el("thead"); var tr = el("tr");
    ["Code", "Description", "Status"].forEach(function (h) { tr.appendChild(el("th", { scope: "col" }, h)); });
    head.appendChild(tr); table.appendChild(head);
    var body = el("tbody");
    data.results.forEach(function (r) {
      var row = el("tr");
      var c = el("td"); c.appendChild(el("a", { "class": "chip code", href: "/code/" + encodeURIComponent(r.code) }, r.code));
      var d = el("td"); d.appendChild(el("span", { "class": "short" }, r.short_description || ""));
      if (r.long_description) { d.appendChild(el("br")); d.appendChild(el("span", { "class": "small muted" }, r.long_description)); }
      var s = el("td", { "class": "small" }, r.termination_date ? "ended " + r.termination_date : (r.status ? "fee schedule " + r.status : ""));
      row.appendChild(c); row.appendChild(d); row.appendChild(s); body.appendChild(row);
    });
    table.appendChild(body);
    var count = el("p", { "class": "small muted" }, data.count + (data.count === 1 ? " result" : " results"));
    var wrap = el("div", { "class": "table-wrap" }); wrap.appendChild(table);
    box.replaceChildren(count, wrap);
  }

  function run() {
    var q = input.value.trim();
    if (q.length < 2) return;
    var mine = ++seq;
    var url = "/api/search?limit=25&q=" + encodeURIComponent(q);
    if (activeOn && activeOn.value) url += "&active_on=" + encodeURIComponent(activeOn.value);
    fetch(url, { headers: { Accept: "application/json" } }).then(function (res) {
      if (!res.ok) return null;  // e.g. API keys required: the form still works
      return res.json();
    }).then(function (data) {
      if (data && mine === seq) render(data);
    }).catch(function () {});
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 180);
  });
})();
