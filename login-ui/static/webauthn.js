// login-ui's WebAuthn and passkey support, the only script of Olympus' pages.
//
// identity-svc describes every ceremony in the flow's nodes: a button marked
// `data-webauthn-trigger="<node name>"` and the options (a JSON string) in the button's value or
// in a hidden field of the same form. Pressing the button runs navigator.credentials.create/get
// with those options and posts the JSON result in the method's field, with `method` set.
// What goes wrong is said in the page's `#webauthn-status` live region, in the texts the server
// put in its `data-unsupported` and `data-failed` attributes (the page's language).
(() => {
  "use strict";

  const fromBase64Url = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };

  const toBase64Url = (buffer) => {
    if (!buffer) return undefined;
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const credentialIds = (list) =>
    (list || []).map((c) => Object.assign({}, c, { id: fromBase64Url(c.id) }));

  // Options arrive as `{"publicKey": {...}}` (or bare); binary members are base64url strings.
  const publicKeyOf = (options) => options.publicKey || options;

  const creationOptions = (options) => {
    const pk = publicKeyOf(options);
    return {
      publicKey: Object.assign({}, pk, {
        challenge: fromBase64Url(pk.challenge),
        user: Object.assign({}, pk.user, { id: fromBase64Url(pk.user.id) }),
        excludeCredentials: credentialIds(pk.excludeCredentials),
      }),
    };
  };

  const requestOptions = (options) => {
    const pk = publicKeyOf(options);
    return {
      publicKey: Object.assign({}, pk, {
        challenge: fromBase64Url(pk.challenge),
        allowCredentials: credentialIds(pk.allowCredentials),
      }),
    };
  };

  const serialise = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: toBase64Url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64Url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toBase64Url(r.authenticatorData);
      response.signature = toBase64Url(r.signature);
      response.userHandle = toBase64Url(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64Url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response,
    });
  };

  const hiddenValue = (form, name) => {
    const field = form.elements.namedItem(name);
    return field ? field.value : "";
  };

  // Node name of the trigger → where its options are, which call, which field takes the result.
  const ceremonies = {
    passkey_login_trigger: {
      options: (form) => JSON.parse(hiddenValue(form, "passkey_challenge")),
      create: false, field: "passkey_login", method: "passkey",
    },
    passkey_register_trigger: {
      options: (form) => JSON.parse(hiddenValue(form, "passkey_create_data")).credentialOptions,
      create: true, field: "passkey_register", method: "passkey",
    },
    webauthn_login_trigger: {
      options: (form, button) => JSON.parse(button.value),
      create: false, field: "webauthn_login", method: "webauthn",
    },
    webauthn_register_trigger: {
      options: (form, button) => JSON.parse(button.value),
      create: true, field: "webauthn_register", method: "webauthn",
    },
  };

  const post = (form, ceremony, result) => {
    const target = form.elements.namedItem(ceremony.field);
    if (target) target.value = result;
    // form.submit() sends no button, so the method travels in a hidden field.
    const method = document.createElement("input");
    method.type = "hidden";
    method.name = "method";
    method.value = ceremony.method;
    form.appendChild(method);
    form.submit();
  };

  // Fills the live region; emptied first, so that the same text twice is announced twice.
  const say = (which) => {
    const status = document.getElementById("webauthn-status");
    if (!status) return;
    status.textContent = "";
    window.setTimeout(() => { status.textContent = status.dataset[which] || ""; }, 50);
  };

  const run = (event) => {
    const button = event.currentTarget;
    const ceremony = ceremonies[button.dataset.webauthnTrigger];
    const form = button.form;
    if (!ceremony || !form) return;
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say("unsupported");
      return;
    }
    say("none");
    let call;
    try {
      const options = ceremony.options(form, button);
      call = ceremony.create
        ? navigator.credentials.create(creationOptions(options))
        : navigator.credentials.get(requestOptions(options));
    } catch (error) {
      say("failed");
      return;
    }
    button.disabled = true;
    call.then((credential) => post(form, ceremony, serialise(credential)))
      .catch(() => {
        button.disabled = false;
        say("failed");
      });
  };

  const bind = () => {
    if (!window.PublicKeyCredential) say("unsupported");
    document.querySelectorAll("[data-webauthn-trigger]").forEach((button) => {
      button.addEventListener("click", run);
    });
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
})();
