/* Contact matching in the browser (CON-4).
 *
 * Each pasted line is normalized to E.164, then hashed with HMAC-SHA256 under the
 * contact-matching key (WebCrypto; needs a secure context: HTTPS, or http://127.0.0.1
 * and localhost). Only the hex digests leave the browser.
 *
 * Normalization is deliberately simple (the server's accounts/phones.py uses the full
 * phonenumbers library; this covers what people paste):
 *   - keep the digits and a leading "+"; "00" in front means "+";
 *   - 11 digits starting with 1 are a mainland China mobile: "+86" is added;
 *   - "86" followed by 11 digits gets its "+";
 *   - anything else without "+" is skipped, as is a result outside 8 to 15 digits.
 */
(function () {
  "use strict";

  function normalize(line) {
    var text = line.trim();
    if (!text) return null;
    var plus = text.charAt(0) === "+";
    var digits = text.replace(/\D/g, "");
    if (!plus && digits.indexOf("00") === 0) {
      plus = true;
      digits = digits.slice(2);
    }
    if (!plus) {
      if (digits.length === 11 && digits.charAt(0) === "1") digits = "86" + digits;
      else if (!(digits.length === 13 && digits.indexOf("861") === 0)) return undefined;
    }
    if (digits.length < 8 || digits.length > 15) return undefined;
    return "+" + digits;
  }

  function base64ToBytes(text) {
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); })
      .join("");
  }

  async function readJson(response) {
    try { return await response.json(); } catch (e) { return {}; }
  }

  function setup(form) {
    var status = document.getElementById("contact-status");
    var list = document.getElementById("contact-matches");
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var max = parseInt(form.dataset.max, 10) || 500;

    function say(text) { status.textContent = text; }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      list.textContent = "";
      if (!window.crypto || !window.crypto.subtle) { say(status.dataset.textUnsupported); return; }
      say(status.dataset.textWorking);
      var lines = form.elements.numbers.value.split(/\r?\n/);
      var numbers = [], skipped = [];
      lines.forEach(function (line) {
        var e164 = normalize(line);
        if (e164 === undefined) skipped.push(line.trim());
        else if (e164 && numbers.indexOf(e164) < 0) numbers.push(e164);
      });
      numbers = numbers.slice(0, max);
      var keyResponse = await fetch(form.dataset.keyUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      var keyDocument = await readJson(keyResponse);
      if (!keyResponse.ok) { say(keyDocument.error || keyResponse.statusText); return; }
      var key = await crypto.subtle.importKey(
        "raw", base64ToBytes(keyDocument.key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]
      );
      var byDigest = {};
      var encoder = new TextEncoder();
      for (var i = 0; i < numbers.length; i++) {
        byDigest[hex(await crypto.subtle.sign("HMAC", key, encoder.encode(numbers[i])))] = numbers[i];
      }
      var response = await fetch(form.dataset.matchUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ digests: Object.keys(byDigest) }),
      });
      var result = await readJson(response);
      if (!response.ok) { say(result.error || response.statusText); return; }
      var message = result.matches.length ? status.dataset.textFound : status.dataset.textNone;
      if (skipped.length) message += " " + status.dataset.textInvalid + " " + skipped.join(", ");
      say(message);
      result.matches.forEach(function (match) {
        var item = document.createElement("li");
        item.textContent = match.display_name + " (" + byDigest[match.digest] + ")";
        list.appendChild(item);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("contact-matching");
    if (form) setup(form);
  });
})();
