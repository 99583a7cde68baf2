// The patient's page: choose consent, hand the challenge to the phone's JPKI client, wait for its answer,
// then show (and allow withdrawing) the patient's consents at this institution. No login, no cookies.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var api = app.dataset.api;
  var labels = JSON.parse(app.dataset.labels);
  var session = null;
  var timer = null;
  var waitingText = document.getElementById("waiting").textContent;

  function $(id) { return document.getElementById(id); }
  function show(id) {
    ["choose", "handoff", "refused", "done"].forEach(function (s) { $(s).hidden = s !== id; });
  }
  function post(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                        body: JSON.stringify(body || {}) }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, body: j }; });
    });
  }
  function problemText(p) { return (p && (p.detail || p.title)) || "処理できませんでした。"; }

  document.querySelectorAll("input[name=mode]").forEach(function (radio) {
    radio.addEventListener("change", function () { $("kinds").hidden = radio.value !== "kinds" || !radio.checked; });
  });

  function begin(purpose) {
    var blanket = document.querySelector("input[name=mode]:checked").value === "blanket";
    var kinds = [];
    if (purpose === "register" && !blanket) {
      document.querySelectorAll("input[name=kind]:checked").forEach(function (c) { kinds.push(c.value); });
      if (!kinds.length) {
        $("choose-error").textContent = "同意する情報を1つ以上選んでください。";
        $("choose-error").hidden = false;
        return;
      }
    }
    $("choose-error").hidden = true;
    var body = purpose === "register" ? { purpose: purpose, blanket: blanket, kinds: kinds } : { purpose: purpose };
    post(api + "/sessions", body).then(function (r) {
      if (!r.ok) { $("choose-error").textContent = problemText(r.body); $("choose-error").hidden = false; return; }
      session = r.body;
      $("waiting").textContent = waitingText;  // a new challenge: an earlier wrong PIN is past
      $("waiting").className = "small";
      $("handoff-link").setAttribute("href", session.handoff_uri);
      show("handoff");
      timer = setInterval(poll, 1000);
    });
  }

  function poll() {
    fetch(session.status_url).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) {
        if (!r.ok) { clearInterval(timer); $("refused-detail").textContent = problemText(r.body); show("refused"); return; }
        var s = r.body;
        if (s.status === "refused") {
          clearInterval(timer); $("refused-detail").textContent = problemText(s.problem); show("refused");
        } else if (s.status === "authenticated") {
          clearInterval(timer); render(s);
        } else if (s.problem) {  // the card refused the PIN: say so (tries left) instead of waiting silently
          $("waiting").textContent = problemText(s.problem);
          $("waiting").className = "problem";
        }  // the server's clock decides expiry: an answer after it is refused, and shown as such
      });
  }

  function kindsText(c) {
    if (c.blanket) { return "すべての情報（包括同意）"; }
    return c.kinds.map(function (k) { return labels[k] || k; }).join("、");
  }

  // Times as the server gave them, in Japan's time (the patient's phone clock decides nothing).
  function jst(iso) {
    var d = new Date(new Date(iso).getTime() + 9 * 3600 * 1000);
    var mm = ("0" + d.getUTCMinutes()).slice(-2);
    return (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日 " + d.getUTCHours() + "時" + mm + "分";
  }

  // Each consent's state in words for the patient (the window's own message is for the provider).
  function stateText(w) {
    if (w.state === "open") { return jst(w.closes_at) + "まで、この医療機関が閲覧できます"; }
    if (w.state === "not_open") { return jst(w.opens_at) + "から閲覧できるようになります"; }
    if (w.state === "withdrawn") { return "取り消し済み（" + jst(w.closed_at) + "）"; }
    if (w.state === "closed") { return "閲覧期間は終わりました（" + jst(w.closed_at) + "）"; }
    return "医療情報は閲覧されません";
  }

  // One line, said once, on what just happened.
  function lead(s, withdrawn) {
    if (withdrawn) { return "この医療機関は、あなたの医療情報を閲覧できなくなりました。"; }
    var mine = (s.consents || []).filter(function (c) { return c.id === s.consent_id; })[0];
    if (mine && mine.window.state === "open") {
      return jst(mine.window.closes_at) + "まで（24時間）、この医療機関があなたの医療情報を閲覧できます。";
    }
    return "";
  }

  function render(s, withdrawn) {
    $("done-title").textContent = withdrawn ? "すべての同意を取り消しました"
      : s.purpose === "register" ? (s.consent_id ? "同意を登録しました" : "本人確認しました") : "登録済みの同意";
    $("done-lead").textContent = lead(s, withdrawn);
    $("done-lead").hidden = !$("done-lead").textContent;
    $("done-note").textContent = s.problem ? problemText(s.problem) : "";
    var list = $("consents");
    list.innerHTML = "";
    (s.consents || []).forEach(function (c) {
      var li = document.createElement("li");
      li.dataset.consent = c.id;
      var what = document.createElement("div");
      what.textContent = kindsText(c);
      var state = document.createElement("div");
      state.className = "state";
      state.textContent = stateText(c.window);
      li.appendChild(what);
      li.appendChild(state);
      list.appendChild(li);
    });
    if (!(s.consents || []).length) {
      var none = document.createElement("li");
      none.textContent = "登録されている同意はありません。";
      list.appendChild(none);
    }
    $("withdraw-box").hidden = !(s.consents || []).some(function (c) { return !c.withdrawn_at; });
    $("intro").className = "compact";  // the result first, without scrolling
    show("done");
    window.scrollTo(0, 0);
  }

  $("start").addEventListener("click", function () { begin("register"); });
  $("manage").addEventListener("click", function () { begin("manage"); });
  $("again").addEventListener("click", function () { show("choose"); });
  $("withdraw").addEventListener("click", function () { $("withdraw-confirm").hidden = false; });
  $("withdraw-no").addEventListener("click", function () { $("withdraw-confirm").hidden = true; });
  $("withdraw-yes").addEventListener("click", function () {
    post(session.status_url + "/withdrawal").then(function (r) {
      if (!r.ok) { $("done-note").textContent = problemText(r.body); return; }
      $("withdraw-confirm").hidden = true;
      fetch(session.status_url).then(function (x) { return x.json(); }).then(function (s) { render(s, true); });
    });
  });
})();
