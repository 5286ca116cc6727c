(function () {
  "use strict";
  // The language switch: both languages are in the page; this flips which one shows and remembers it
  // in a cookie the server reads, so the next page (and a reload) opens in the same language.
  var root = document.documentElement;
  var TAG = { zh: "zh-Hans", en: "en" };
  var button = document.getElementById("lang-switch");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var lang = root.classList.contains("show-zh") ? "en" : "zh";
    root.classList.remove("show-zh", "show-en");
    root.classList.add("show-" + lang);
    root.lang = TAG[lang];
    // Text that cannot hold both languages (options, placeholders) carries each in a data attribute.
    Array.prototype.forEach.call(document.querySelectorAll("[data-en]"), function (el) {
      el.textContent = el.getAttribute("data-" + lang);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-placeholder-en]"), function (el) {
      el.placeholder = el.getAttribute("data-placeholder-" + lang);
    });
    document.cookie = "harness_lang=" + lang + "; path=/; max-age=31536000; samesite=strict";
  });
})();
