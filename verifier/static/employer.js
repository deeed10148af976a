/* Employer page: read a credential (camera, photo, pasted code, URL fragment), send it to
 * the verification API and show the answer in the chosen language.
 *
 * Everything shown comes from the API's verification result; every word of the interface
 * comes from i18n.json (handed over by the server in #bootstrap). The DOM is built with
 * textContent only: claims are untrusted input.
 */
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("bootstrap").textContent);
  var lang = boot.lang;
  /** Status information older than this is flagged (amber): one day, in seconds. */
  var STATUS_MAX_AGE = 86400;
  /** Claims shown in the holder's card; the rest belong to the qualification. */
  var HOLDER_FIELDS = ["given_name", "family_name", "birthdate", "nationalities"];
  var lastRequest = null;
  var lastResult = null;
  var scanControls = null;
  /** Number of the latest request: an answer to an older one is dropped. */
  var sequence = 0;

  var $ = function (id) { return document.getElementById(id); };

  // --- words -------------------------------------------------------------------------
  function t(key) {
    var table = boot.ui[lang] || boot.ui.en;
    return table[key] !== undefined ? table[key] : boot.ui.en[key] || key;
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] !== undefined ? values[name] : "";
    });
  }
  function codeSentence(code) {
    var table = boot.codes[lang] || boot.codes.en;
    return table[code] || boot.codes.en[code] || null;
  }
  function checkName(name) {
    var table = boot.checks[lang] || boot.checks.en;
    return table[name] || name;
  }
  function passedSentence(name) {
    var table = boot.passed[lang] || boot.passed.en;
    return table[name] || checkName(name);
  }
  function pick(texts) {
    if (!texts || typeof texts !== "object") { return texts ? String(texts) : ""; }
    return texts[lang] || texts.en || texts[Object.keys(texts)[0]] || "";
  }
  function duration(seconds) {
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1] || units[i][0] === "second") {
        var n = Math.floor(seconds / units[i][1]);
        try {
          return new Intl.NumberFormat(lang, { style: "unit", unit: units[i][0], unitDisplay: "long" }).format(n);
        } catch (e) { return n + " " + units[i][0] + (n === 1 ? "" : "s"); }
      }
    }
    return String(seconds);
  }
  function formatDate(text, withTime) {
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}/.test(text)) { return text; }
    var date = new Date(text.length === 10 ? text + "T00:00:00Z" : text);
    if (isNaN(date.getTime())) { return text; }
    var options = withTime ? { dateStyle: "long", timeStyle: "short" } : { dateStyle: "long", timeZone: "UTC" };
    try { return new Intl.DateTimeFormat(lang, options).format(date); } catch (e) { return text; }
  }
  function displayName(type, code) {
    try {
      return new Intl.DisplayNames([lang], { type: type }).of(code) || code;
    } catch (e) { return code; }
  }

  // --- static strings and language ----------------------------------------------------
  function applyLanguage() {
    var info = boot.languages[lang] || boot.languages.en;
    document.documentElement.lang = lang;
    document.documentElement.dir = info.dir;
    document.querySelectorAll("[data-t]").forEach(function (el) { el.textContent = t(el.dataset.t); });
    document.querySelectorAll("[data-t-label]").forEach(function (el) {
      el.setAttribute("aria-label", t(el.dataset.tLabel));
    });
    document.title = t("page_title");
    $("lang-select").value = lang;
  }

  function onLanguageChange(event) {
    lang = event.target.value in boot.languages ? event.target.value : "en";
    var url = new URL(window.location.href);
    url.searchParams.set("lang", lang);
    window.history.replaceState(null, "", url.pathname + url.search);
    applyLanguage();
    if (lastRequest) { verify(lastRequest); }
  }

  // --- talking to the API -----------------------------------------------------------
  function showBusy() {
    var live = $("live");
    live.replaceChildren();
    var box = el("div", "busy");
    box.appendChild(el("span", "spinner"));
    box.lastChild.setAttribute("aria-hidden", "true");
    box.appendChild(el("span", null, t("checking")));
    live.appendChild(box);
    $("result").hidden = true;
  }

  function verify(request) {
    var mine = ++sequence;
    lastRequest = request;
    showBusy();
    var init = { method: "POST", headers: { Accept: "application/json" } };
    if (request.kind === "image") {
      var form = new FormData();
      form.append("image", request.file, request.file.name || "qr.png");
      form.append("lang", lang);
      init.body = form;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ token: request.token, lang: lang });
    }
    fetch(boot.api, init)
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (mine !== sequence) { return; }
          if (request.fallbacks && request.fallbacks.length && unreadable(body)) {
            verify({ kind: "token", token: request.fallbacks[0], fallbacks: request.fallbacks.slice(1) });
            return;
          }
          if (response.ok && body && Array.isArray(body.checks)) { showResult(body); }
          else { showProblem(body, response.status); }
        });
      })
      .catch(function () { if (mine === sequence) { showProblem({ code: "network_error" }, 0); } });
  }

  /** The service could not read the credential at all (so another reading may work). */
  function unreadable(body) {
    if (!body) { return false; }
    if (Array.isArray(body.checks)) {
      return body.checks.some(function (c) { return c.name === "format" && c.ok === false; });
    }
    return /^(qr_|malformed_token|invalid_base64url|invalid_json)/.test(String(body.code || ""));
  }

  // --- deciding the colour --------------------------------------------------------------
  function classify(result) {
    var failures = result.checks.filter(function (c) { return c.ok === false; });
    if (result.status === "revoked") { return { tone: "red", key: "revoked", failures: failures }; }
    if (result.status === "suspended") { return { tone: "red", key: "suspended", failures: failures }; }
    var onlyStatus = failures.length > 0 && failures.every(function (c) {
      return c.name === "credential_status";
    });
    if (failures.length === 0 && result.valid) {
      var info = result.status_info || {};
      if (result.status === "unknown") { return { tone: "amber", key: "unknown", failures: failures }; }
      if (info.stale === true || (typeof info.age_seconds === "number" && info.age_seconds > STATUS_MAX_AGE)) {
        return { tone: "amber", key: "old", failures: failures };
      }
      return { tone: "green", key: "valid", failures: failures };
    }
    if (onlyStatus && result.status === "unknown") {
      return { tone: "amber", key: "unknown", failures: failures };
    }
    return { tone: "red", key: "invalid", failures: failures };
  }

  // --- DOM helpers ------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function card(title, id) {
    var section = el("section", "card");
    if (id) { section.id = id; }
    var heading = el("h2", null, title);
    heading.id = (id || "card") + "-heading";
    section.setAttribute("aria-labelledby", heading.id);
    section.appendChild(heading);
    return section;
  }
  function facts(rows) {
    var dl = el("dl", "facts");
    rows.forEach(function (row) {
      if (row[1] === undefined || row[1] === null || row[1] === "") { return; }
      dl.appendChild(el("dt", null, row[0]));
      // A value may be in another script than the page (French under Arabic): isolate it so
      // its punctuation stays in place, and keep the page's alignment.
      var dd = el("dd");
      dd.appendChild(el("bdi", null, row[1]));
      dl.appendChild(dd);
    });
    return dl;
  }

  // --- the result ---------------------------------------------------------------------
  function verdictBox(tone, title, sub) {
    var box = el("div", "verdict " + tone);
    var icon = el("span", "icon", { green: "✓", amber: "!", red: "✕", error: "?" }[tone]);
    icon.setAttribute("aria-hidden", "true");
    var text = el("div");
    var heading = el("h2", null, title);
    heading.id = "verdict-title";
    heading.tabIndex = -1;
    text.appendChild(heading);
    if (sub) { text.appendChild(el("p", null, sub)); }
    box.appendChild(icon);
    box.appendChild(text);
    box.dataset.tone = tone;
    return box;
  }

  function failureItems(verdict) {
    var list = el("ul", "reasons");
    verdict.failures.forEach(function (check) {
      var sentence = codeSentence(check.code);
      var item = el("li", verdict.tone === "amber" ? "warn" : "bad",
        sentence || codeSentence("generic") + " (" + checkName(check.name) + ")");
      item.dataset.code = check.code;
      list.appendChild(item);
    });
    return list;
  }

  function passedItems(result) {
    var list = el("ul", "reasons");
    result.checks.forEach(function (check) {
      if (check.ok !== true) { return; }
      var text = passedSentence(check.name);
      var info = result.status_info;
      if (check.name === "credential_status" && info && typeof info.age_seconds === "number") {
        text = fill(passedSentence("credential_status_age"), { age: duration(info.age_seconds) });
      }
      var item = el("li", "good", text);
      item.dataset.code = "ok";
      list.appendChild(item);
    });
    return list;
  }

  function claimValue(entry) {
    var name = entry.path.split(".").pop();
    var value = entry.value;
    if (entry.text !== undefined) { return entry.text; }
    if (entry.meaning) {
      return name === "eqf_level" ? value + " — " + entry.meaning : entry.meaning + " (" + value + ")";
    }
    if (boot.codelists[name] && typeof value === "string") {
      var words = (boot.codelists[name][lang] || {})[value];
      if (words) { return words; }
    }
    if (/(^|_)(country|country_of_award)$/.test(name) && typeof value === "string") {
      return displayName("region", value);
    }
    if (name === "nationalities" && Array.isArray(value)) {
      return value.map(function (code) { return displayName("region", code); }).join(", ");
    }
    if (/^language/.test(name) && typeof value === "string") { return displayName("language", value); }
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) { return formatDate(value); }
    if (Array.isArray(value)) { return value.map(String).join(", "); }
    if (value && typeof value === "object") { return pick(value); }
    if (typeof value === "number") {
      try { return new Intl.NumberFormat(lang).format(value); } catch (e) { return String(value); }
    }
    return value === null || value === undefined ? "" : String(value);
  }

  function holderCard(credential) {
    var claims = credential.claims || {};
    var disclosed = credential.disclosed || [];
    var section = card(t("holder_heading"), "holder");
    var name = [claims.given_name, claims.family_name].filter(Boolean).join(" ");
    if (name) {
      var line = el("p", "holder-name");
      line.appendChild(el("bdi", null, name));
      line.id = "holder-name";
      section.appendChild(line);
    }
    var rows = disclosed.filter(function (e) {
      var top = e.path.split(".")[0];
      return HOLDER_FIELDS.indexOf(top) >= 0 && top !== "given_name" && top !== "family_name";
    }).map(function (e) { return [e.label, claimValue(e)]; });
    section.appendChild(facts(rows));
    return name || rows.length ? section : null;
  }

  /** What an employer reads first: occupation, level, field, then the rest as issued. */
  var FIRST = ["isco08", "eqf_level", "isced_f", "proficiency", "awarded_on", "assessed_on"];
  function rank(entry, index) {
    var position = FIRST.indexOf(entry.path.split(".").pop());
    return position >= 0 ? position - FIRST.length : index;
  }

  function qualificationCard(credential) {
    var disclosed = credential.disclosed || [];
    var section = card(t("qualification_heading"), "qualification");
    section.appendChild(el("p", "type-name", credential.type_name || credential.vct));
    var titleEntry = disclosed.filter(function (e) { return /(^|\.)title$/.test(e.path); })[0];
    if (titleEntry) {
      var title = el("p", "title-line");
      title.appendChild(el("bdi", null, claimValue(titleEntry)));
      title.id = "qualification-title";
      section.appendChild(title);
    }
    var rows = disclosed.filter(function (e) {
      return e !== titleEntry && HOLDER_FIELDS.indexOf(e.path.split(".")[0]) < 0;
    }).map(function (e, index) { return { entry: e, rank: rank(e, index) }; })
      .sort(function (a, b) { return a.rank - b.rank; })
      .map(function (item) { return [item.entry.label, claimValue(item.entry)]; });
    rows.push([t("issued_on"), formatDate(credential.issued_at)]);
    rows.push([t("valid_until"), credential.expires_at ? formatDate(credential.expires_at) : t("no_expiry")]);
    section.appendChild(facts(rows));
    return section;
  }

  function issuerCard(issuer) {
    var section = card(t("issuer_heading"), "issuer");
    var accreditation = issuer.accreditation || {};
    var trusted = issuer.trusted_by;
    var rows = [
      [t("issuer_name"), pick(issuer.names) || null],
      [t("issuer_id"), issuer.id],
      [t("country"), issuer.country ? displayName("region", issuer.country) : null],
    ];
    section.appendChild(facts(rows));
    if (accreditation.id || accreditation.body) {
      section.appendChild(el("h3", null, t("accreditation_heading")));
      var trustedText = null;
      if (trusted && typeof trusted === "object" && trusted.anchor) {
        trustedText = trusted.anchor + (trusted.jurisdiction ? " (" + displayName("region", trusted.jurisdiction) + ")" : "");
      }
      section.appendChild(facts([
        [t("accreditation_body"), pick(accreditation.body) || null],
        [t("accreditation_id"), accreditation.id],
        [t("trusted_through"), trustedText],
      ]));
    } else if (trusted === "issuer key") {
      section.appendChild(el("p", "hint", t("trusted_directly")));
    }
    return section;
  }

  function technicalCard(result) {
    var details = el("details", "card technical");
    details.appendChild(el("summary", null, t("technical")));
    var table = el("table", "checks-table");
    var head = el("tr");
    [t("check_col"), t("result_col"), "code", ""].forEach(function (h) { head.appendChild(el("th", null, h)); });
    head.lastChild.className = "visually-hidden";
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    result.checks.forEach(function (check) {
      var row = el("tr");
      row.dataset.check = check.name;
      row.appendChild(el("td", null, checkName(check.name)));
      var state = check.ok === true ? ["ok-yes", t("passed")] : check.ok === false ? ["ok-no", t("failed")] : ["ok-none", t("not_run")];
      row.appendChild(el("td", state[0], state[1]));
      var code = el("td", "ltr", check.code);
      code.dir = "ltr";
      row.appendChild(code);
      var detail = el("td", "detail", check.detail);
      detail.dir = "ltr";
      row.appendChild(detail);
      body.appendChild(row);
    });
    table.appendChild(body);
    details.appendChild(table);
    return details;
  }

  function receiptCard(result, verdict) {
    var section = card(t("receipt_heading"), "receipt");
    section.appendChild(facts([[t("verified_at"), formatDate(result.verified_at, true)]]));
    var actions = el("div", "receipt-actions");
    var print = el("button", "btn", t("print"));
    print.type = "button";
    print.addEventListener("click", function () { window.print(); });
    var download = el("button", "btn primary", t("download"));
    download.type = "button";
    download.id = "download-receipt";
    download.addEventListener("click", function () { downloadReceipt(result, verdict); });
    var again = el("button", "btn", t("verify_another"));
    again.type = "button";
    again.addEventListener("click", reset);
    actions.appendChild(download);
    actions.appendChild(print);
    actions.appendChild(again);
    section.appendChild(actions);
    return section;
  }

  function receiptDocument(result, verdict) {
    var credential = result.credential || {};
    return {
      receipt: "Passerelle verification receipt",
      verifier: window.location.origin,
      verified_at: result.verified_at,
      verdict: verdict.key,
      verdict_text: t("verdict_" + verdict.key),
      valid: result.valid,
      status: result.status,
      reasons: verdict.failures.map(function (c) { return { check: c.name, code: c.code, text: codeSentence(c.code) }; }),
      checks: result.checks,
      issuer: result.issuer,
      credential: {
        vct: credential.vct, type: credential.type, type_name: credential.type_name,
        issued_at: credential.issued_at, expires_at: credential.expires_at,
        claims: credential.claims, disclosed: credential.disclosed,
      },
      status_info: result.status_info,
      lang: lang,
    };
  }

  function downloadReceipt(result, verdict) {
    var text = JSON.stringify(receiptDocument(result, verdict), null, 2);
    var blob = new Blob([text], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var link = el("a");
    link.href = url;
    link.download = "passerelle-verification-" + String(result.verified_at || "").replace(/[^0-9TZ]/g, "") + ".json";
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function showResult(result) {
    lastResult = result;
    var verdict = classify(result);
    var sub = t("verdict_" + verdict.key + "_sub");
    if (verdict.key === "old") { sub = fill(sub, { age: duration(result.status_info.age_seconds) }); }
    var live = $("live");
    live.replaceChildren(verdictBox(verdict.tone, t("verdict_" + verdict.key), sub));
    live.dataset.verdict = verdict.key;

    var out = $("result");
    out.replaceChildren();
    if (verdict.failures.length) {
      var reasons = card(t("reasons"), "reasons");
      reasons.appendChild(failureItems(verdict));
      out.appendChild(reasons);
    }
    var passed = passedItems(result);
    if (passed.children.length) {
      // Open when all is well; one tap away when something is wrong.
      var checked = el("details", "card checked");
      checked.id = "checked";
      checked.open = verdict.tone === "green";
      checked.appendChild(el("summary", null, t("checked")));
      checked.appendChild(passed);
      out.appendChild(checked);
    }
    if (result.credential) {
      var holder = holderCard(result.credential);
      if (holder) { out.appendChild(holder); }
      out.appendChild(qualificationCard(result.credential));
    }
    if (result.issuer && (result.issuer.names || result.issuer.accreditation || result.issuer.id)) {
      out.appendChild(issuerCard(result.issuer));
    }
    out.appendChild(technicalCard(result));
    out.appendChild(receiptCard(result, verdict));
    out.hidden = false;
    $("verdict-title").focus({ preventScroll: false });
  }

  function showProblem(problem, httpStatus) {
    lastResult = null;
    var code = problem && typeof problem.code === "string" ? problem.code : httpStatus >= 500 ? "service_error" : "request_invalid";
    var sentence = codeSentence(code) || (problem && problem.detail) || codeSentence("generic");
    var live = $("live");
    live.replaceChildren(verdictBox("error", t("error_heading"), sentence));
    live.dataset.verdict = "error";
    live.dataset.code = code;
    $("result").replaceChildren();
    $("result").hidden = true;
    $("verdict-title").focus();
  }

  function reset() {
    lastRequest = null;
    lastResult = null;
    $("live").replaceChildren();
    delete $("live").dataset.verdict;
    $("result").replaceChildren();
    $("result").hidden = true;
    $("token").value = "";
    $("photo").value = "";
    $("scan-start").focus();
    window.scrollTo(0, 0);
  }

  // --- the three ways in, and the fourth (a link) ----------------------------------------
  function stopScan() {
    if (scanControls) { try { scanControls.stop(); } catch (e) { /* already stopped */ } }
    scanControls = null;
    $("scanner").hidden = true;
    $("scan-start").hidden = false;
  }

  function startScan() {
    var message = $("scan-message");
    message.className = "inline-message";
    message.textContent = "";
    var supported = window.ZXingBrowser && navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
      window.isSecureContext;
    if (!supported) {
      message.className = "inline-message problem";
      message.textContent = t("scan_unsupported");
      return;
    }
    var reader = new window.ZXingBrowser.BrowserQRCodeReader();
    $("scanner").hidden = false;
    $("scan-start").hidden = true;
    message.textContent = t("scan_reading");
    reader.decodeFromConstraints(
      { video: { facingMode: { ideal: "environment" } }, audio: false },
      $("scan-video"),
      function (decoded, error, controls) {
        if (!decoded) { return; }
        controls.stop();
        scanControls = null;
        $("scanner").hidden = true;
        $("scan-start").hidden = false;
        message.textContent = "";
        verify({ kind: "token", token: decoded.getText() });
      }
    ).then(function (controls) {
      scanControls = controls;
      $("scan-stop").focus();
    }).catch(function () {
      stopScan();
      message.className = "inline-message problem";
      message.textContent = t("scan_denied");
    });
  }

  /** Phone photos are often larger than the service accepts (2 MiB by default): large ones
   * are scaled down in the browser first. A QR code needs a few pixels per module, not 12
   * megapixels; if anything fails, the photo goes as it is and the service says why. */
  var UPLOAD_TARGET_BYTES = 1500000;
  var UPLOAD_SIDES = [2400, 1800, 1400];
  function shrink(file) {
    if (file.size <= UPLOAD_TARGET_BYTES || !window.createImageBitmap) { return Promise.resolve(file); }
    return window.createImageBitmap(file).then(function (bitmap) {
      function attempt(i) {
        var scale = Math.min(1, UPLOAD_SIDES[i] / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.9); })
          .then(function (blob) {
            if (blob && (blob.size <= UPLOAD_TARGET_BYTES || i === UPLOAD_SIDES.length - 1)) {
              return new File([blob], "photo.jpg", { type: "image/jpeg" });
            }
            return attempt(i + 1);
          });
      }
      return attempt(0);
    }).catch(function () { return file; });
  }

  function onPhoto(event) {
    var file = event.target.files && event.target.files[0];
    event.target.value = "";  // choosing the same photo again must fire "change" again
    if (!file) { return; }
    showBusy();
    shrink(file).then(function (ready) { verify({ kind: "image", file: ready }); });
  }

  function onPaste(event) {
    event.preventDefault();
    var token = $("token").value.trim();
    if (!token) {
      showProblem({ code: "request_invalid", detail: t("paste_empty") }, 400);
      $("live").querySelector("p").textContent = t("paste_empty");
      $("token").focus();
      return;
    }
    verify({ kind: "token", token: token });
  }

  function safeDecode(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }

  /** What a link's fragment may carry, most likely first (the payload's CRC-32 refuses a
   * wrong reading, and the next one is tried).
   *
   * passerelle.qr.verification_link writes "https://host/#PS1:<Base45>" percent-encoded
   * ("%20" a space, "%25" a "%"): decoded once, that is the payload. A link written with
   * literal spaces reaches us with each space turned into "%20" by the browser and Base45's
   * own "%" left alone: then "%20" is a space, unless the payload held those three
   * characters, and the literal reading is the last resort. A fragment written fully
   * percent-encoded ("PS1%3A...") or as token=<percent-encoded value> is decoded once. */
  function fragmentCandidates(hash) {
    if (/^PS1:/.test(hash)) {
      var readings = [safeDecode(hash), hash.replace(/%20/g, " "), hash];
      return readings.filter(function (text, i) { return readings.indexOf(text) === i; });
    }
    if (/^PS1%3A/i.test(hash)) { return [safeDecode(hash)]; }
    var found = [];
    hash.split("&").forEach(function (item) {
      var eq = item.indexOf("=");
      if (eq > 0 && item.slice(0, eq) === "token" && item.length > eq + 1) {
        found.push(safeDecode(item.slice(eq + 1)));
      }
    });
    return found.slice(0, 1);
  }

  /** A link such as https://host/#PS1:... or #token=... verifies at once (a phone's own
   * camera app opens it). The fragment is then removed from the address bar and history:
   * it carries personal data. */
  function fromFragment() {
    var candidates = fragmentCandidates(window.location.hash.slice(1));
    if (!candidates.length) { return; }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    verify({ kind: "token", token: candidates[0], fallbacks: candidates.slice(1) });
  }

  function init() {
    applyLanguage();
    $("lang-select").addEventListener("change", onLanguageChange);
    $("scan-start").addEventListener("click", startScan);
    $("scan-stop").addEventListener("click", function () { stopScan(); $("scan-start").focus(); });
    $("photo").addEventListener("change", onPhoto);
    $("paste-form").addEventListener("submit", onPaste);
    window.addEventListener("hashchange", fromFragment);
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("#result details").forEach(function (d) { d.open = true; });
    });
    fromFragment();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
}());
