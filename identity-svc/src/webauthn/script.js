// Olympus WebAuthn helper for login and settings pages that render identity-svc's ui.nodes.
// It finds the nodes by name: the *_trigger buttons start a ceremony with the options in the
// flow, and the result is posted in the method's field (passkey_login, passkey_register,
// webauthn_login, webauthn_register) of the same form.
(function () {
  "use strict";
  function toBytes(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }
  function toText(buffer) {
    if (!buffer) { return undefined; }
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function field(form, name) { return form.querySelector('[name="' + name + '"]'); }
  function creationOptions(json) {
    var o = json.publicKey;
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }
  function requestOptions(json) {
    var o = json.publicKey;
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }
  function attestation(c) {
    return JSON.stringify({
      id: c.id, rawId: toText(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        attestationObject: toText(c.response.attestationObject),
        clientDataJSON: toText(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : undefined
      }
    });
  }
  function assertion(c) {
    return JSON.stringify({
      id: c.id, rawId: toText(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        authenticatorData: toText(c.response.authenticatorData),
        clientDataJSON: toText(c.response.clientDataJSON),
        signature: toText(c.response.signature),
        userHandle: toText(c.response.userHandle)
      }
    });
  }
  // form.submit() sends no submit button, so the method travels in a hidden field of its own
  // (the last field of a name wins).
  function submit(form, name, value, method) {
    field(form, name).value = value;
    var m = document.createElement("input");
    m.type = "hidden";
    m.name = "method";
    m.value = method;
    form.appendChild(m);
    form.submit();
  }
  var ceremonies = {
    passkey_login_trigger: function (form) {
      var options = JSON.parse(field(form, "passkey_challenge").value);
      return navigator.credentials.get(requestOptions(options)).then(function (c) {
        submit(form, "passkey_login", assertion(c), "passkey");
      });
    },
    passkey_register_trigger: function (form) {
      var data = JSON.parse(field(form, "passkey_create_data").value);
      return navigator.credentials.create(creationOptions(data.credentialOptions)).then(function (c) {
        submit(form, "passkey_register", attestation(c), "passkey");
      });
    },
    webauthn_login_trigger: function (form, button) {
      return navigator.credentials.get(requestOptions(JSON.parse(button.value))).then(function (c) {
        submit(form, "webauthn_login", assertion(c), "webauthn");
      });
    },
    webauthn_register_trigger: function (form, button) {
      return navigator.credentials.create(creationOptions(JSON.parse(button.value))).then(function (c) {
        submit(form, "webauthn_register", attestation(c), "webauthn");
      });
    }
  };
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button, input") : null;
    if (!button || !ceremonies[button.name] || !button.form) { return; }
    event.preventDefault();
    if (!window.PublicKeyCredential) { return; }
    ceremonies[button.name](button.form, button).catch(function () { /* the user cancelled */ });
  });
})();
