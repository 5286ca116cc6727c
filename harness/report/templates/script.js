(function () {
  "use strict";
  var root = document.documentElement;
  var LANG_TAG = { zh: "zh-Hans", en: "en" };
  function setLang(lang) {
    root.classList.remove("show-zh", "show-en");
    root.classList.add("show-" + lang);
    root.lang = LANG_TAG[lang];
  }
  var switcher = document.getElementById("lang-switch");
  if (switcher) {
    switcher.addEventListener("click", function () {
      setLang(root.classList.contains("show-zh") ? "en" : "zh");
    });
  }
  // Filters: plain JS over data attributes, no server. Rows' text is read once, on the first search.
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-o]"));
  var texts = null;
  var controls = { o: document.getElementById("f-outcome"), d: document.getElementById("f-device"),
                   s: document.getElementById("f-suite"), q: document.getElementById("f-search") };
  var counter = document.getElementById("f-count");
  function apply() {
    var o = controls.o ? controls.o.value : "", d = controls.d ? controls.d.value : "";
    var s = controls.s ? controls.s.value : "", q = controls.q ? controls.q.value.trim().toLowerCase() : "";
    if (q && texts === null) {
      texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    }
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!o || r.getAttribute("data-o") === o) && (!d || r.getAttribute("data-d") === d) &&
               (!s || r.getAttribute("data-s") === s) && (!q || texts[i].indexOf(q) !== -1);
      r.hidden = !ok;
      if (ok && r.tagName === "TR") { shown++; }
    }
    if (counter) { counter.textContent = String(shown); }
  }
  var timer = null;
  ["o", "d", "s", "q"].forEach(function (k) {
    var el = controls[k];
    if (!el) { return; }
    el.addEventListener(k === "q" ? "input" : "change", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(apply, k === "q" ? 150 : 0);
    });
  });
})();
