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
