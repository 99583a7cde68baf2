/* Touch UI: the PIN pad, "busy" forms, the countdown, the offline form's checks and steps. No framework; works from this file only (CSP: script-src 'self'). */
(function () {
  "use strict";

  function busy(form) {
    form.addEventListener("submit", function (e) {
      // Disable after the browser has collected the form, so the pressed button's value is still sent.
      setTimeout(function () {
        if (e.defaultPrevented) { return; }  // a check on the page stopped it: nothing is being sent
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

  // --- The offline form. Without this script every field shows and the agent checks the record on saving
  // (device_agent/fallback.py build). With it: only the chosen method's fields, each of build's errors said
  // next to its field as it is typed (the rules and messages are fallback.form_rules, served in data-rules),
  // and on a phone one step per screen.

  // The insurer number's check digit (device_agent/insurer.py, the server's rule; a test compares the two).
  function insurerValid(number, lengths) {
    if (lengths.indexOf(number.length) < 0 || !/^[0-9]+$/.test(number)) { return false; }
    var total = 0;
    for (var i = number.length - 2, position = 0; i >= 0; i -= 1, position += 1) {
      var product = Number(number.charAt(i)) * (position % 2 === 0 ? 2 : 1);
      total += Math.floor(product / 10) + product % 10;
    }
    return (10 - total % 10) % 10 === Number(number.charAt(number.length - 1));
  }

  // A date as the form's date field gives it ("2026-12-01") → {y, m, d}, or null (fallback._iso_day).
  function isoDay(text) {
    var found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
    if (!found) { return null; }
    var day = { y: Number(found[1]), m: Number(found[2]), d: Number(found[3]) };
    return day.y >= 1 && day.m >= 1 && day.m <= 12 && day.d >= 1 && day.d <= daysIn(day.y, day.m) ? day : null;
  }
  function daysIn(y, m) {
    var leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  }
  function iso(day) {
    function pad(n, width) { var s = String(n); while (s.length < width) { s = "0" + s; } return s; }
    return pad(day.y, 4) + "-" + pad(day.m, 2) + "-" + pad(day.d, 2);
  }
  function ja(day) { return day ? day.y + "年" + day.m + "月" + day.d + "日" : ""; }
  // Calendar months later, clamped to the month's end (certificate.shift_months, the server's).
  function shiftMonths(day, months) {
    var index = day.m - 1 + months, y = day.y + Math.floor(index / 12), m = index - Math.floor(index / 12) * 12 + 1;
    return { y: y, m: m, d: Math.min(day.d, daysIn(y, m)) };
  }

  // A 資格確認書's expiry and issue day on the visit day: fallback.certificate_error, from the same table of
  // checks and words (rules.certificate); the first that fails, as [field, message], or null.
  function certificateError(untilText, issuedText, rules) {
    var until = isoDay(untilText), issued = isoDay(issuedText), day = isoDay(rules.day);
    if ((!until && untilText) || (!issued && issuedText)) { return null; }
    var start = issued || day, latest = shiftMonths(start, rules.maxMonths);
    var failed = {
      expired: !!until && iso(until) < iso(day), issued_later: !!issued && iso(issued) > iso(day),
      before_issue: !!until && !!issued && iso(until) < iso(issued), over_term: !!until && iso(until) > iso(latest)
    };
    var words = { until_iso: until ? iso(until) : "", until: ja(until), issued: ja(issued), day: ja(day),
                  since: rules.since[issued ? "issued" : "visit"], start: ja(start), latest: ja(latest) };
    for (var i = 0; i < rules.checks.length; i += 1) {
      var rule = rules.checks[i];
      if (failed[rule[0]]) {
        return [rule[1], rule[2].replace(/\{(\w+)\}/g, function (_, name) { return words[name]; })];
      }
    }
    return null;
  }

  // fallback.build's errors for these values ({name: text, or true for a ticked box}) as [field, message].
  function check(values, rules) {
    var method = rules.methods[values.method];
    if (!method) { return [["method", rules.chooseMethod]]; }
    function text(name) { var v = values[name]; return typeof v === "string" ? v.trim() : ""; }
    function flag(name) { return values[name] === true || values[name] === "on"; }
    function present(name) { return rules.flags.indexOf(name) >= 0 ? flag(name) : text(name) !== ""; }
    var errors = [];
    if (method.dateError) { errors.push(["method", method.dateError]); }
    if (method.needsReference && !text("patient_reference")) {
      errors.push(["patient_reference", method.needsReference]);
    }
    var oral = values.method === "oral_revisit", numbersKept = !oral || flag("from_provider_records");
    var required = oral && numbersKept ? method.required.concat(rules.providerRecords) : method.required;
    required.forEach(function (rule) { if (!present(rule[0])) { errors.push(rule); } });
    if (values.method === "declaration") {
      var parts = ["decl_birth_era", "decl_birth_year", "decl_birth_month", "decl_birth_day"].map(text);
      var born = parts.every(function (part) { return part !== ""; });
      rules.declaration.forEach(function (rule) {
        var name = rule[0];
        var given = name === "decl_birth_date" ? born
          : (name === "decl_has_valid_qualification" || name === "decl_signed") ? flag(name) : text(name) !== "";
        if (!given) { errors.push(rule); }
      });
      if (born && !parts.slice(1).every(function (part) { return /^[0-9０-９]+$/.test(part); })) {
        errors.push(["decl_birth_date", rules.birthInvalid]);
      }
    }
    var number = numbersKept ? text("insurer_number") : "";
    if (number && !insurerValid(number, rules.insurer.lengths)) { errors.push(["insurer_number", rules.insurer.error]); }
    if (values.method === "paper_card" && number.length === 8 && number.slice(0, 2) === "39" && rules.latterStageError) {
      errors.push(["method", rules.latterStageError]);
    }
    if (method.allowed.indexOf("valid_until") >= 0) {
      var certificate = certificateError(text("valid_until"), text("issued_on"), rules.certificate);
      if (certificate) { errors.push(certificate); }
    }
    return errors;
  }
  window.offlineChecks = { check: check, insurerValid: insurerValid, shiftMonths: shiftMonths };  // for the test that pins them

  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token") { return; }
      if (el.type === "checkbox") { values[el.name] = el.checked; }
      else if (el.type === "radio") { if (el.checked) { values[el.name] = el.value; } }
      else { values[el.name] = el.value; }
    });
    return values;
  }

  // Where a field's error is said: after its label (or its group, for the method and the era date).
  function fieldBox(form, name) {
    if (name === "method") { return form.querySelector("fieldset.methods"); }
    if (name === "decl_birth_date" || name.indexOf("decl_birth_") === 0) { return form.querySelector(".era-date"); }
    var input = form.querySelector("[name='" + name + "']");
    return input ? input.closest("label") : null;
  }

  function say(form, name, message) {
    var box = fieldBox(form, name);
    if (!box) { return; }
    var note = box.nextElementSibling && box.nextElementSibling.classList.contains("field-error")
      ? box.nextElementSibling : null;
    box.classList.toggle("invalid", !!message);
    box.querySelectorAll("input, select").forEach(function (el) {
      if (message) { el.setAttribute("aria-invalid", "true"); } else { el.removeAttribute("aria-invalid"); }
    });
    if (!message) { if (note) { note.remove(); } return; }
    if (!note) {
      note = document.createElement("p");
      note.className = "field-error";
      note.setAttribute("role", "alert");
      box.parentNode.insertBefore(note, box.nextSibling);
    }
    note.textContent = message;
  }

  function offlineForm(form) {
    var rules = JSON.parse(form.dataset.rules);
    var parts = form.querySelectorAll("[data-methods]");
    var touched = {};
    form.noValidate = true;  // the checks below say each error in Japanese next to its field
    // A field refused on saving (by the agent or the server) counts as touched: fixing it clears its mark.
    form.querySelectorAll(".invalid input, .invalid select").forEach(function (el) {
      if (el.name) { touched[el.name.indexOf("decl_birth_") === 0 ? "decl_birth_date" : el.name] = true; }
    });

    function showMethodFields() {
      var chosen = form.querySelector("input[name=method]:checked");
      parts.forEach(function (part) {
        part.hidden = !!chosen && part.dataset.methods.split(" ").indexOf(chosen.value) < 0;
      });
    }
    function fieldOf(name) { return name.indexOf("decl_birth_") === 0 ? "decl_birth_date" : name; }

    // Say the errors of the fields touched so far (or of ``only``: a step's fields, every field on saving).
    function refresh(only) {
      var errors = check(formValues(form), rules), byField = {};
      errors.forEach(function (e) { byField[e[0]] = byField[e[0]] ? byField[e[0]] + " " + e[1] : e[1]; });
      if (only) { Object.keys(byField).forEach(function (name) { if (only(name)) { touched[name] = true; } }); }
      var names = {};
      Array.prototype.forEach.call(form.elements, function (el) { if (el.name) { names[fieldOf(el.name)] = true; } });
      Object.keys(byField).forEach(function (name) { names[name] = true; });
      Object.keys(names).forEach(function (name) { say(form, name, touched[name] ? byField[name] : null); });
      return errors.filter(function (e) { return !only || only(e[0]); });
    }

    form.addEventListener("change", function (e) {
      if (e.target.name) { touched[fieldOf(e.target.name)] = true; }
      showMethodFields();
      refresh();
    });
    form.addEventListener("input", function (e) {
      var name = e.target.name;
      // the insurer number is judged once it has its full length, while it is being typed
      if (name === "insurer_number" && e.target.value.trim().length >= 8) { touched[name] = true; }
      refresh();
    });
    var walk = steps(form, refresh);
    form.addEventListener("submit", function (e) {
      var errors = refresh(function () { return true; });
      if (errors.length) {
        e.preventDefault();
        walk.toError();
      }
    });
    showMethodFields();
  }

  // On a phone (narrower than 600 px) one step per screen, each checked before the next; on a tablet every
  // field at once. The last step lists what will be kept.
  function steps(form, refresh) {
    var sections = Array.prototype.slice.call(form.querySelectorAll(".form-step"));
    var submit = form.querySelector("button[type=submit]");
    var phone = window.matchMedia("(max-width: 599px)");
    var indicator = document.createElement("p");
    indicator.className = "step";
    indicator.setAttribute("aria-live", "polite");
    form.insertBefore(indicator, sections[0]);
    var nav = document.createElement("div");
    nav.className = "step-nav actions two";
    var back = document.createElement("button"), next = document.createElement("button");
    back.type = next.type = "button";
    back.className = "button quiet";
    back.textContent = "戻る";
    next.className = "button primary";
    next.textContent = "次へ";
    nav.appendChild(back);
    nav.appendChild(next);
    submit.parentNode.insertBefore(nav, submit);
    var current = 0;

    function inStep(index) {
      return function (name) {
        var box = fieldBox(form, name);
        return !!box && sections[index].contains(box);
      };
    }
    function summary() {
      var list = sections[sections.length - 1].querySelector(".summary");
      list.textContent = "";
      sections.slice(0, -1).forEach(function (section) {
        section.querySelectorAll("label").forEach(function (label) {
          if (label.closest("[data-methods][hidden]")) { return; }
          var input = label.querySelector("input, select"), value = "";
          if (!input || input.type === "hidden") { return; }
          if (input.type === "radio" || input.type === "checkbox") {
            if (input.checked) { value = label.querySelector("strong").textContent; }
          } else if (input.tagName === "SELECT") {
            value = input.value ? input.options[input.selectedIndex].text : "";
          } else {
            value = input.value.trim();
          }
          if (!value) { return; }
          var title = input.type === "radio" ? (label.closest("fieldset").querySelector("legend") || {}).textContent
            : input.type === "checkbox" ? "確認" : label.firstChild.textContent;
          var dt = document.createElement("dt"), dd = document.createElement("dd");
          dt.textContent = title;
          dd.textContent = value;
          list.appendChild(dt);
          list.appendChild(dd);
        });
      });
    }
    function show() {
      var stepped = phone.matches, last = sections.length - 1;
      form.classList.toggle("stepped", stepped);
      sections.forEach(function (section, i) {
        section.hidden = stepped ? i !== current : i === last;
      });
      nav.hidden = indicator.hidden = !stepped;
      back.hidden = current === 0;
      next.hidden = current === last;
      submit.hidden = stepped && current !== last;
      indicator.textContent = "ステップ " + (current + 1) + "／" + sections.length + "　" +
        sections[current].dataset.stepTitle;
      if (stepped && current === last) { summary(); }
    }
    function go(index) {
      current = index;
      show();
      indicator.scrollIntoView({ block: "start" });
    }
    next.addEventListener("click", function () {
      if (refresh(inStep(current)).length === 0) { go(current + 1); }
    });
    back.addEventListener("click", function () { go(current - 1); });
    phone.addEventListener("change", show);
    // A refusal (from the agent or the server) opens on the step of its first field.
    var refused = form.querySelector(".invalid");
    sections.forEach(function (section, i) { if (refused && section.contains(refused) && current === 0) { current = i; } });
    show();
    return {
      toError: function () {
        var first = sections.findIndex(function (section) { return section.querySelector(".invalid"); });
        if (phone.matches && first >= 0) { go(first); }
        var field = form.querySelector(".invalid input, .invalid select, input.invalid, select.invalid");
        if (field) { field.focus(); }
      }
    };
  }

  // A consent link's page: its state refreshed by itself while the patient consents on their phone (the agent's
  // JSON, ui/routes_links.py status), until nothing more can happen to the link. Without script: 状態を更新.
  function linkStatus(status) {
    var seconds = parseInt(status.dataset.pollSeconds, 10) || 3;
    var note = document.querySelector(".link-poll-note");
    function render(link) {
      status.textContent = "";
      var label = document.createElement("strong");
      label.textContent = link.label;
      status.appendChild(label);
      if (link.kinds) { status.appendChild(document.createTextNode("（" + link.kinds + "）")); }
      if (link.window) {
        status.appendChild(document.createElement("br"));
        status.appendChild(document.createTextNode(link.window));
      }
      status.dataset.state = link.state;
      status.classList.toggle("info", link.state === "waiting" || link.state === "consented");
      status.classList.toggle("error", !(link.state === "waiting" || link.state === "consented"));
      if (link.state !== "waiting") {  // the QR code has done its job (or can no longer)
        document.querySelectorAll(".link-waiting").forEach(function (el) { el.remove(); });
      }
    }
    function ask() {
      fetch(status.dataset.poll, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) { note.textContent = answer.error; } else { note.textContent = ""; render(answer); }
          if (!answer.final) { setTimeout(ask, seconds * 1000); }
        })
        .catch(function () {  // the agent itself did not answer: try again a little later
          setTimeout(ask, seconds * 3000);
        });
    }
    setTimeout(ask, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".link-status[data-poll]").forEach(linkStatus);
    document.querySelectorAll("form[data-busy]").forEach(busy);
    document.querySelectorAll("form.offline-form").forEach(offlineForm);
    document.querySelectorAll("[data-seconds-left]").forEach(countdown);
    var pad = document.getElementById("pinpad");
    if (pad) { pinpad(pad); }
  });
})();
