// The console's only script (CSP: scripts from this origin only, none inline).
//
// [data-poll="<url>"]: the element is replaced, every data-poll-ms (default 1000),
//   by the fragment the URL answers; a fragment without data-poll stops the polling.
// form[data-preview="<url>"] with data-preview-target="<id>": while typing, the
//   form's fields are sent to the URL (GET) and the target shows the answer.
(function () {
  "use strict";

  function replaceWith(element, html) {
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var fresh = holder.content.firstElementChild;
    if (!fresh) { return null; }
    element.replaceWith(fresh);
    return fresh;
  }

  function poll(element) {
    var url = element.getAttribute("data-poll");
    var every = parseInt(element.getAttribute("data-poll-ms") || "1000", 10);
    window.setTimeout(function () {
      // A tab nobody looks at asks for nothing; it catches up when shown again.
      if (document.hidden) { poll(element); return; }
      fetch(url, { credentials: "same-origin", headers: { "X-Console-Poll": "1" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          var next = html === null ? element : replaceWith(element, html);
          if (next && next.hasAttribute("data-poll")) { poll(next); }
        })
        .catch(function () { poll(element); });
    }, every);
  }

  function preview(form) {
    var target = document.getElementById(form.getAttribute("data-preview-target"));
    var url = form.getAttribute("data-preview");
    var timer = null;
    var asked = 0;
    function ask() {
      var fields = new URLSearchParams();
      ["schedule", "timezone", "dst_policy"].forEach(function (name) {
        var input = form.elements.namedItem(name);
        if (input && "value" in input) { fields.set(name, input.value); }
      });
      var mine = ++asked;
      fetch(url + "?" + fields.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) { if (mine === asked) { target.innerHTML = html; } });
    }
    form.addEventListener("input", function (event) {
      var name = event.target && event.target.name;
      if (["schedule", "timezone", "dst_policy"].indexOf(name) < 0) { return; }
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("form[data-preview]").forEach(preview);
  });
})();
