// faxpush console: refresh the parts of a page marked data-live-url while it is open.
// The server renders (and escapes) the fragment; without JavaScript the page simply
// shows what it had when loaded.
(function () {
  "use strict";
  var EVERY_MS = 3000;
  var parts = document.querySelectorAll("[data-live-url]");
  Array.prototype.forEach.call(parts, function (part) {
    var target = document.getElementById(part.getAttribute("data-live-target")) || part;
    var url = part.getAttribute("data-live-url");
    var busy = false;
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", redirect: "error" })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          if (html !== null && html !== target.getAttribute("data-live-html")) {
            target.innerHTML = html;
            target.setAttribute("data-live-html", html);
          }
        })
        .catch(function () { /* offline or logged out: keep what is shown */ })
        .then(function () { busy = false; });
    }
    part.setAttribute("data-live", "on");
    window.setInterval(refresh, EVERY_MS);
  });
})();
