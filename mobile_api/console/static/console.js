// The console's only script: countdowns against the server's clock, confirmations, and this browser as an
// enrolled device (a non-extractable P-256 key made by WebCrypto, kept in IndexedDB; ES256 assertions).
"use strict";
(function () {
  var loadedAt = Date.now();
  var serverNow = Date.parse(document.body.dataset.serverNow || "") || loadedAt;
  function now() { return serverNow + (Date.now() - loadedAt); }  // the server's (injected) clock, ticking

  function left(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "時間" : "") + m + "分" + (s % 60) + "秒";
  }
  function tick() {
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var ms = Date.parse(el.dataset.until) - now();
      if (ms <= 0) { el.textContent = el.dataset.expiredText || "終了"; el.classList.add("expired"); }
      else { el.textContent = left(ms); }
    });
  }
  tick();
  setInterval(tick, 1000);

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // --- this browser as a device --------------------------------------------------------------------------
  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open("mobile-oqs-console", 1);
      open.onupgradeneeded = function () { open.result.createObjectStore("device"); };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }
  function stored() {
    return db().then(function (d) {
      return new Promise(function (resolve) {
        var get = d.transaction("device").objectStore("device").get("this");
        get.onsuccess = function () { resolve(get.result || null); };
        get.onerror = function () { resolve(null); };
      });
    }).catch(function () { return null; });
  }
  function store(value) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction("device", "readwrite");
        tx.objectStore("device").put(value, "this");
        tx.oncomplete = resolve; tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function b64url(bytes) {
    var s = ""; new Uint8Array(bytes).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function text(str) { return new TextEncoder().encode(str); }
  function assertion(device, audience) {
    var iat = Math.floor(now() / 1000), jti = new Uint8Array(16);
    crypto.getRandomValues(jti);
    var header = b64url(text(JSON.stringify({alg: "ES256", typ: "JWT", kid: device.id})));
    var claims = b64url(text(JSON.stringify({iss: device.id, sub: device.id, aud: audience,
      jti: Array.from(jti, function (b) { return b.toString(16).padStart(2, "0"); }).join(""),
      iat: iat, exp: iat + 120})));
    var input = header + "." + claims;
    return crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, device.key, text(input)).then(function (sig) {
      return input + "." + b64url(sig);  // WebCrypto's ECDSA signature is r||s, as JWS ES256 wants
    });
  }

  var login = document.getElementById("login-form");
  if (login && window.crypto && crypto.subtle && window.indexedDB) {
    stored().then(function (device) {
      if (!device) { return; }
      var status = document.getElementById("device-status");
      status.hidden = false;
      status.textContent = "このブラウザは登録端末「" + device.label + "」としてログインします。";
      var signing = false;
      login.addEventListener("submit", function (event) {
        if (signing) { return; }
        event.preventDefault();
        signing = true;
        assertion(device, login.dataset.audience).then(function (jwt) {
          document.getElementById("device-assertion").value = jwt;
          login.submit();
        }, function () { login.submit(); });
      });
    });
  }

  var enrol = document.getElementById("enrol-form");
  if (enrol) {
    var state = document.getElementById("this-device-state"), error = document.getElementById("enrol-error");
    stored().then(function (device) {
      state.textContent = device ? "このブラウザは端末「" + device.label + "」として登録されています。"
                                 : "このブラウザはまだ端末として登録されていません。";
    });
    enrol.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      var code = document.getElementById("enrol-code").value.replace(/\D/g, "");
      var pair;
      crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"}, false, ["sign", "verify"]).then(function (p) {
        pair = p;
        return crypto.subtle.exportKey("spki", p.publicKey);
      }).then(function (spki) {
        var b64 = b64url(spki).replace(/-/g, "+").replace(/_/g, "/");
        while (b64.length % 4) { b64 += "="; }
        var pem = "-----BEGIN PUBLIC KEY-----\n" + b64.match(/.{1,64}/g).join("\n") + "\n-----END PUBLIC KEY-----\n";
        return fetch(enrol.dataset.enrolUrl, {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({activation_code: code, public_key_pem: pem}), credentials: "omit"});
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.detail || body.title || "登録できませんでした。"); }
          return store({id: body.device_id, label: body.label || "このブラウザ", key: pair.privateKey});
        });
      }).then(function () {
        state.textContent = "登録しました。ログインすると、このブラウザは登録端末として扱われます。";
        enrol.hidden = true;
      }).catch(function (e) { error.textContent = e.message; error.hidden = false; });
    });
  }
})();
