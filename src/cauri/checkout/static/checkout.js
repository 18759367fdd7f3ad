// Progressive enhancement only: every step is a form post and a server-rendered page without scripts (refresh
// tags, plain links); this makes them smoother: the status poll, the country's methods on change, the number
// formatted and its network found as it is typed.
(function () {
  "use strict";
  var body = document.body;
  var poll = body.getAttribute("data-poll");
  var version = body.getAttribute("data-version");
  var redirect = body.getAttribute("data-redirect");
  document.documentElement.className += " js";

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
    setTimeout(function () { location.assign(redirect); }, 3000);
  }

  // The country: its methods as soon as it is chosen (the button does it without scripts).
  var country = document.getElementById("country-select");
  if (country) {
    country.addEventListener("change", function () { if (country.value) { country.form.submit(); } });
  }

  // The number: grouped the country's way, and its network checked from its prefix.
  var phone = document.getElementById("phone");
  if (!phone || phone.readOnly || !phone.getAttribute("data-cc")) { return; }
  var cc = phone.getAttribute("data-cc");
  var trunk = phone.getAttribute("data-trunk") || "";
  var groups = (phone.getAttribute("data-groups") || "").split(" ").map(Number).filter(Boolean);
  var prefixes = {};
  (phone.getAttribute("data-prefixes") || "").split(" ").forEach(function (pair) {
    var i = pair.indexOf(":");
    if (i > 0) { prefixes[pair.slice(0, i)] = pair.slice(i + 1); }
  });
  var touched = false;  // a network the customer tapped is theirs: never overridden
  document.querySelectorAll("input[name=method]").forEach(function (radio) {
    radio.addEventListener("click", function () { touched = true; });
  });
  var significant = function (text) {
    var digits = text.replace(/\D/g, "");
    if (/^\s*(\+|00)/.test(text)) {
      digits = digits.replace(/^00/, "");
      return digits.indexOf(cc) === 0 ? digits.slice(cc.length) : null;
    }
    return trunk && digits.indexOf(trunk) === 0 ? digits.slice(trunk.length) : digits;
  };
  var format = function (text) {
    var international = /^\s*(\+|00)/.test(text);
    var digits = text.replace(/\D/g, "");
    var lead = "", sizes = groups;
    if (international) {
      digits = digits.replace(/^00/, "");
      if (digits.indexOf(cc) !== 0) { return "+" + digits; }
      lead = "+" + cc + " ";
      digits = digits.slice(cc.length);
      // After the country code the trunk prefix is dropped: the first group is that much shorter (a copy:
      // the plan's groups are shared by every keystroke).
      if (trunk && sizes.length) { sizes = [sizes[0] - trunk.length].concat(sizes.slice(1)); }
    }
    var out = [], at = 0;
    for (var g = 0; g < sizes.length && at < digits.length; g++) {
      out.push(digits.slice(at, at + sizes[g]));
      at += sizes[g];
    }
    if (at < digits.length) { out.push(digits.slice(at)); }
    return lead + out.join(" ");
  };
  var predict = function () {
    var nsn = significant(phone.value);
    if (nsn === null || touched) { return; }
    var best = "";
    for (var prefix in prefixes) {
      if (nsn.indexOf(prefix) === 0 && prefix.length > best.length) { best = prefix; }
    }
    var radio = best && document.querySelector("input[name=method][value='" + prefixes[best] + "']");
    if (radio) {
      radio.checked = true;
      var hint = document.getElementById("network-hint");
      if (hint) { hint.textContent = hint.getAttribute("data-found"); }
    }
  };
  phone.addEventListener("input", function () {
    var end = phone.selectionEnd === phone.value.length;
    var formatted = format(phone.value);
    if (end && formatted !== phone.value) { phone.value = formatted; }
    predict();
  });
  predict();
})();
