// distrib ui: the few lines of script the pages use.  No framework, nothing inserted as HTML.
//
// Live progress: an element with data-sse-src="/…" shows the text of each Server-Sent Event
// of that stream (textContent only: an event's data is never parsed as HTML).
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
});
