// Progressive enhancement only: without scripts the page still works (refresh tags and plain links).
(function () {
  "use strict";
  var body = document.body;
  var poll = body.getAttribute("data-poll");
  var version = body.getAttribute("data-version");
  var redirect = body.getAttribute("data-redirect");

  if (poll) {
    var check = function () {
      fetch(poll, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.version !== version) { location.reload(); } else { setTimeout(check, 1500); }
        })
        .catch(function () { setTimeout(check, 3000); });
    };
    setTimeout(check, 1500);
  }

  if (redirect) {
    setTimeout(function () { location.assign(redirect); }, 1500);
  }

  // Show only the fields the chosen method needs.
  var radios = document.querySelectorAll("input[name=method]");
  var sections = document.querySelectorAll(".fields[data-kinds]");
  var update = function () {
    var chosen = document.querySelector("input[name=method]:checked");
    var kind = chosen ? chosen.getAttribute("data-kind") : "";
    sections.forEach(function (section) {
      var kinds = section.getAttribute("data-kinds").split(" ");
      section.hidden = kinds.indexOf(kind) < 0;
    });
  };
  radios.forEach(function (radio) { radio.addEventListener("change", update); });
  if (radios.length) { update(); }
})();
