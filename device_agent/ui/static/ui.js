/* Touch UI: the PIN pad and "busy" forms. No framework; works from this file only (CSP: script-src 'self'). */
(function () {
  "use strict";

  function busy(form) {
    form.addEventListener("submit", function () {
      // Disable after the browser has collected the form, so the pressed button's value is still sent.
      setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        var note = document.createElement("p");
        note.className = "busy-note";
        note.setAttribute("role", "status");
        note.textContent = form.dataset.busy;
        form.appendChild(note);
      }, 0);
    });
  }

  function pinpad(form) {
    var value = document.createElement("input");
    value.type = "hidden";
    value.name = "pin";
    form.appendChild(value);
    var dots = form.querySelectorAll(".dots span");
    var ok = form.querySelector("[data-action=ok]");

    function show() {
      dots.forEach(function (dot, i) { dot.classList.toggle("filled", i < value.value.length); });
      ok.disabled = value.value.length !== 4;
    }
    function press(digit) { if (value.value.length < 4) { value.value += digit; show(); } }
    function back() { value.value = value.value.slice(0, -1); show(); }

    form.querySelectorAll("[data-digit]").forEach(function (key) {
      key.addEventListener("click", function () { press(key.dataset.digit); });
    });
    form.querySelector("[data-action=back]").addEventListener("click", back);
    document.addEventListener("keydown", function (e) {
      if (/^[0-9]$/.test(e.key)) { press(e.key); e.preventDefault(); }
      else if (e.key === "Backspace") { back(); e.preventDefault(); }
    });
    form.addEventListener("submit", function (e) { if (value.value.length !== 4) { e.preventDefault(); } });
    // Leaving the page (or coming back to it from history) never keeps digits around.
    window.addEventListener("pagehide", function () { value.value = ""; show(); });
    window.addEventListener("pageshow", function () { value.value = ""; show(); });
    show();
  }

  // The viewing window's time left, counted down live (minutes, as the server's answer said at page load).
  function countdown(banner) {
    var left = parseInt(banner.dataset.secondsLeft, 10);
    var shown = banner.querySelector(".remaining");
    var started = Date.now();
    function render() {
      var rest = left - Math.floor((Date.now() - started) / 1000);
      if (rest <= 0) {
        banner.classList.remove("open");
        banner.classList.add("closed");
        shown.textContent = "終了";
        document.querySelectorAll(".kind-buttons a").forEach(function (a) { a.remove(); });
        return false;
      }
      var minutes = Math.floor(rest / 60), hours = Math.floor(minutes / 60);
      shown.textContent = hours ? hours + "時間" + (minutes % 60) + "分" : minutes + "分";
      return true;
    }
    render();
    var timer = setInterval(function () { if (!render()) { clearInterval(timer); } }, 1000);
  }

  // The offline form: only the fields the chosen method takes (without this script every field shows, and the
  // agent keeps only the ones the method takes).
  function methodFields(form) {
    var parts = form.querySelectorAll("[data-methods]");
    function show() {
      var chosen = form.querySelector("input[name=method]:checked");
      parts.forEach(function (part) {
        part.hidden = !!chosen && part.dataset.methods.split(" ").indexOf(chosen.value) < 0;
      });
    }
    form.querySelectorAll("input[name=method]").forEach(function (r) { r.addEventListener("change", show); });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-busy]").forEach(busy);
    document.querySelectorAll("form.offline-form").forEach(methodFields);
    document.querySelectorAll("[data-seconds-left]").forEach(countdown);
    var pad = document.getElementById("pinpad");
    if (pad) { pinpad(pad); }
  });
})();
