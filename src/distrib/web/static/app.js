// distrib ui: the few lines of script the pages use.  No framework, nothing inserted as HTML.
//
// Live progress: an element with data-sse-src="/…" shows the text of each Server-Sent Event
// of that stream (textContent only: an event's data is never parsed as HTML).
// An element with data-sse-json="/…" reads each event as JSON and writes each value into its
// descendants marked data-field="name" (as text; a <progress> gets value and max="total");
// with data-reload-on-end, the page is loaded again when the work is over.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-sse-src]").forEach(function (element) {
    var source = new EventSource(element.getAttribute("data-sse-src"));
    source.addEventListener("message", function (event) {
      element.textContent = event.data;
    });
    source.addEventListener("end", function (event) {
      element.textContent = event.data;
      source.close();
    });
  });
  document.querySelectorAll("[data-sse-json]").forEach(function (element) {
    var source = new EventSource(element.getAttribute("data-sse-json"));
    function show(event) {
      var state = JSON.parse(event.data);
      element.querySelectorAll("[data-field]").forEach(function (field) {
        var name = field.getAttribute("data-field");
        if (!(name in state) || state[name] === null) return;
        if (field.tagName === "PROGRESS") {
          if ("total" in state) field.max = state.total;
          field.value = state[name];
        } else {
          field.textContent = String(state[name]);
        }
      });
      return state;
    }
    source.addEventListener("progress", show);
    source.addEventListener("end", function (event) {
      show(event);
      source.close();
      if (element.hasAttribute("data-reload-on-end")) window.location.reload();
    });
  });
});

// The release editor: the body's preview follows the text (the server renders it; the frame
// is sandboxed).  The audience page: the count follows the boxes ticked.  A preset fills the
// relay fields.  A list dropped on the drop zone goes to its file field.
function csrfOf(form) {
  var field = form.querySelector('input[name="csrf"]');
  return field ? field.value : "";
}
function later(action, wait) {
  var timer = null;
  return function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(action, wait);
  };
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("textarea[data-preview]").forEach(function (area) {
    var frame = document.getElementById(area.getAttribute("data-frame"));
    var form = area.form;
    var update = later(function () {
      var body = new URLSearchParams();
      body.append("body", area.value);
      body.append("csrf", csrfOf(form));
      fetch(area.getAttribute("data-preview"), {method: "POST", body: body, credentials: "same-origin"})
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (found) { if (found && frame) { frame.setAttribute("src", found.frame); } });
    }, 400);
    area.addEventListener("input", update);
  });

  document.querySelectorAll("form[data-count]").forEach(function (form) {
    var target = document.getElementById(form.getAttribute("data-target"));
    var update = later(function () {
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("data-count"), {method: "POST", body: body, credentials: "same-origin"})
        .then(function (answer) { return answer.json(); })
        .then(function (found) {
          if (!target || !found || found.problems) { return; }
          var kept = target.querySelector(".kept");
          var merged = target.querySelector(".merged");
          if (kept) { kept.textContent = String(found.kept); }
          if (merged) { merged.textContent = String(found.merged); }
          var rows = target.querySelector("tbody");
          if (rows) {
            rows.textContent = "";
            found.left_out.forEach(function (pair) {
              var row = document.createElement("tr");
              var rule = document.createElement("td");
              var count = document.createElement("td");
              rule.textContent = pair[0];
              count.textContent = String(pair[1]);
              count.className = "num";
              row.appendChild(rule);
              row.appendChild(count);
              rows.appendChild(row);
            });
          }
        });
    }, 250);
    form.addEventListener("change", update);
  });

  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    select.addEventListener("change", function () {
      var chosen = select.options[select.selectedIndex];
      var prefix = select.getAttribute("data-fills") + ".";
      ["host", "port", "security"].forEach(function (name) {
        var value = chosen.getAttribute("data-" + name);
        var field = document.getElementById(prefix + name);
        if (value && field) { field.value = value; }
      });
    });
  });

  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = document.getElementById(zone.getAttribute("data-dropzone"));
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (input && event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
      }
    });
  });
});
