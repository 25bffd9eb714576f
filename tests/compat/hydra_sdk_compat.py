#!/usr/bin/env python3
"""Drives oauth2-svc's admin API with Ory's published Hydra SDK (PyPI `ory-hydra-client`) and
validates every raw response body against Ory's OpenAPI document.

    hydra_sdk_compat.py --admin http://127.0.0.1:4445 --public http://127.0.0.1:4444 \
        --openapi ../shared/reference/openapi/hydra-api.json

Each call goes through the SDK's typed API (its `*_with_http_info` form), so the SDK must accept
the status and parse the body into its models; the raw bytes of the same response are then
validated against the schema that the OpenAPI document gives for that operation and status.
Browser steps of the authorization flow (which the SDK does not model) use plain HTTP with a
cookie-keeping session that never follows redirects.

Prints one line per check and `N passed, M failed` last; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import http.cookiejar
import json
import secrets
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

import jsonschema
import ory_hydra_client as hydra
import pydantic
from ory_hydra_client.exceptions import ApiException, NotFoundException

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never served: the flow stops at the 302


# --- OpenAPI ---------------------------------------------------------------------------------


def nullable_to_json_schema(value: Any) -> None:
    """OpenAPI 3.0 `nullable: true` → JSON Schema: `"null"` joins `type` and `enum` (as in
    shared-types/tests/support/openapi.rs). A property named `nullable` (an object) is left."""
    if isinstance(value, dict):
        nullable = value.get("nullable")
        if isinstance(nullable, bool):
            del value["nullable"]
            if nullable:
                if isinstance(value.get("type"), str):
                    value["type"] = [value["type"], "null"]
                if isinstance(value.get("enum"), list) and None not in value["enum"]:
                    value["enum"].append(None)
        for child in value.values():
            nullable_to_json_schema(child)
    elif isinstance(value, list):
        for child in value:
            nullable_to_json_schema(child)


class OpenApi:
    def __init__(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            self.document = json.load(f)
        nullable_to_json_schema(self.document)
        self.formats = jsonschema.FormatChecker()
        # Ory writes `uuid4` for any gofrs UUID.
        self.formats.checks("uuid4")(lambda text: not isinstance(text, str) or _is_uuid(text))

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            pointer = node["$ref"]
            assert pointer.startswith("#/"), pointer
            node = self.document
            for part in pointer[2:].split("/"):
                node = node[part]
        return node

    def response_schema(self, method: str, path: str, status: int) -> tuple[str, dict | None]:
        """The JSON schema of `method path` answering `status` (falling back to `default`),
        with a name for the report; `None` when the document promises no body."""
        operation = self.document["paths"][path][method.lower()]
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            raise AssertionError(
                f"{operation['operationId']} documents no response {status} "
                f"(documented: {', '.join(responses)})"
            )
        response = self.resolve(responses[key])
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return f"{operation['operationId']} {key} (no body)", None
        name = schema.get("$ref", "").rsplit("/", 1)[-1] or "inline schema"
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            name = f"[{schema['items']['$ref'].rsplit('/', 1)[-1]}]"
        return f"{operation['operationId']} {key} {name}", schema

    def violations(self, schema: dict, instance: Any) -> list[str]:
        root = copy.copy(schema)
        root["components"] = self.document["components"]
        validator = jsonschema.Draft4Validator(root, format_checker=self.formats)
        return [
            f"{'/' + '/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        ]


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        return len(text) == 36 and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


# --- the run ---------------------------------------------------------------------------------


class Failure(Exception):
    pass


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """`Secure` cookies go to http://127.0.0.1 and http://localhost too, as browsers treat
    loopback as a potentially trustworthy origin (the services set `Secure` outside dev mode)."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        host = urllib.parse.urlparse(request.get_full_url()).hostname
        return host in ("127.0.0.1", "localhost", "::1") or super().return_ok_secure(
            cookie, request
        )


class Browser:
    """Plain HTTP with cookies, one request at a time, redirects returned rather than followed."""

    def __init__(self) -> None:
        jar = http.cookiejar.CookieJar(LoopbackIsSecure())
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), NoRedirect()
        )

    def get(self, url: str) -> tuple[int, Any, bytes]:
        return self.request(urllib.request.Request(url, method="GET"))

    def post_form(self, url: str, form: dict, auth: tuple[str, str] | None = None):
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return self.request(request)

    def request(self, request: urllib.request.Request) -> tuple[int, Any, bytes]:
        """Status, headers (case-insensitive `get`) and body."""
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


class Run:
    def __init__(self, admin: str, public: str, openapi: OpenApi) -> None:
        self.openapi = openapi
        self.admin_url = admin.rstrip("/")
        self.public_url = public.rstrip("/")
        self.admin = hydra.ApiClient(hydra.Configuration(host=self.admin_url))
        self.public = hydra.ApiClient(hydra.Configuration(host=self.public_url))
        self.browser = Browser()
        self.passed = 0
        self.failed = 0

    # A check: `body` runs, raising on failure; its return value (a short note) is printed.
    def check(self, name: str, body: Callable[[], str | None]) -> bool:
        try:
            note = body()
        except Exception as e:  # noqa: BLE001 — every failure is reported, none stops the run
            self.failed += 1
            detail = str(e).strip() or type(e).__name__
            if isinstance(e, pydantic.ValidationError):
                detail = f"the SDK cannot parse the response: {detail}"
            elif not isinstance(e, (Failure, ApiException)):
                detail = f"{type(e).__name__}: {detail}\n" + "".join(
                    traceback.format_exception(e)[-4:]
                )
            print(f"FAIL {name}: {detail}".replace("\n", "\n     "), flush=True)
            return False
        self.passed += 1
        print(f"ok   {name}{': ' + note if note else ''}", flush=True)
        return True

    def validate(self, method: str, path: str, status: int, raw: bytes | str | None) -> str:
        """Validates a raw body against the document; returns the schema's name."""
        name, schema = self.openapi.response_schema(method, path, status)
        if schema is None:
            if raw:
                raise Failure(f"{name}: expected no body, got {raw[:200]!r}")
            return name
        try:
            instance = json.loads(raw or b"")
        except ValueError as e:
            raise Failure(f"{name}: body is not JSON ({e}): {raw[:200]!r}")
        violations = self.openapi.violations(schema, instance)
        if violations:
            raise Failure(
                f"{name}: {len(violations)} violation(s):\n"
                + "\n".join(violations[:20])
                + f"\nbody: {json.dumps(instance)[:1500]}"
            )
        return name

    def sdk(self, method: str, path: str, call: Callable[[], Any], status: int) -> Any:
        """Runs an SDK `*_with_http_info` call, expects `status`, validates its raw body;
        returns the SDK's parsed data."""
        response = call()
        if response.status_code != status:
            raise Failure(f"status {response.status_code}, expected {status}")
        self.last_schema = self.validate(method, path, status, response.raw_data)
        return response.data

    def sdk_error(self, method: str, path: str, call: Callable[[], Any], status: int) -> ApiException:
        """Runs an SDK call that must raise ApiException with `status`; validates its body."""
        try:
            response = call()
        except ApiException as e:
            if e.status != status:
                raise Failure(f"ApiException {e.status}, expected {status}: {e.body}")
            self.last_schema = self.validate(method, path, status, e.body)
            return e
        raise Failure(f"no ApiException: status {response.status_code}, expected {status}")

    def run(self) -> None:
        oidc = hydra.OidcApi(self.public)
        wellknown = hydra.WellknownApi(self.public)
        oauth2 = hydra.OAuth2Api(self.admin)
        jwk = hydra.JwkApi(self.admin)
        metadata = hydra.MetadataApi(self.admin)
        state: dict[str, Any] = {}

        def note(extra: str = "") -> str:
            return self.last_schema + (f"; {extra}" if extra else "")

        # Metadata and discovery.
        def alive() -> str:
            self.sdk("get", "/health/alive", metadata.is_alive_with_http_info, 200)
            return note()

        self.check("is_alive (admin)", alive)

        def version() -> str:
            self.sdk("get", "/version", metadata.get_version_with_http_info, 200)
            return note()

        self.check("get_version (admin)", version)

        def discovery() -> str:
            config = self.sdk(
                "get",
                "/.well-known/openid-configuration",
                oidc.discover_oidc_configuration_with_http_info,
                200,
            )
            if config.issuer.rstrip("/") != self.public_url:
                raise Failure(f"issuer {config.issuer!r}, expected {self.public_url!r}")
            return note(f"issuer {config.issuer}")

        self.check("discover_oidc_configuration (public)", discovery)

        def jwks() -> str:
            keys = self.sdk(
                "get", "/.well-known/jwks.json", wellknown.discover_json_web_keys_with_http_info, 200
            )
            if not keys.keys:
                raise Failure("empty JWKS")
            state["published_kid"] = keys.keys[0].kid
            return note(f"{len(keys.keys)} key(s)")

        self.check("discover_json_web_keys (public)", jwks)

        # Key sets on the admin API.
        def id_token_set() -> str:
            keys = self.sdk(
                "get",
                "/admin/keys/{set}",
                lambda: jwk.get_json_web_key_set_with_http_info("hydra.openid.id-token"),
                200,
            )
            kids = [k.kid for k in keys.keys]
            if "published_kid" in state and state["published_kid"] not in kids:
                raise Failure(f"published kid {state['published_kid']} not in {kids}")
            if any(getattr(k, "d", None) for k in keys.keys):
                raise Failure("a private key member (d) was returned")
            return note(f"{len(kids)} key(s)")

        self.check("get_json_web_key_set hydra.openid.id-token", id_token_set)

        key_set = f"sdk-compat-{secrets.token_hex(4)}"

        def create_set() -> str:
            keys = self.sdk(
                "post",
                "/admin/keys/{set}",
                lambda: jwk.create_json_web_key_set_with_http_info(
                    key_set, hydra.CreateJsonWebKeySet(alg="ES256", use="sig", kid="sdk")
                ),
                201,
            )
            state["kid"] = keys.keys[0].kid
            return note(f"kid {state['kid']}")

        if self.check("create_json_web_key_set ES256", create_set):
            self.check(
                "get_json_web_key",
                lambda: (
                    self.sdk(
                        "get",
                        "/admin/keys/{set}/{kid}",
                        lambda: jwk.get_json_web_key_with_http_info(key_set, state["kid"]),
                        200,
                    )
                    and note()
                ),
            )
            self.check(
                "delete_json_web_key_set",
                lambda: (
                    self.sdk(
                        "delete",
                        "/admin/keys/{set}",
                        lambda: jwk.delete_json_web_key_set_with_http_info(key_set),
                        204,
                    ),
                    note(),
                )[1],
            )
            self.check(
                "get_json_web_key_set after delete → 404",
                lambda: (
                    self.sdk_error(
                        "get",
                        "/admin/keys/{set}",
                        lambda: jwk.get_json_web_key_set_with_http_info(key_set),
                        404,
                    ),
                    note(),
                )[1],
            )

        # Clients.
        def create_client() -> str:
            client = self.sdk(
                "post",
                "/admin/clients",
                lambda: oauth2.create_o_auth2_client_with_http_info(
                    hydra.OAuth2Client(
                        client_name="SDK compat",
                        redirect_uris=[REDIRECT_URI],
                        grant_types=["authorization_code", "refresh_token", "client_credentials"],
                        response_types=["code"],
                        scope="openid offline_access profile",
                        token_endpoint_auth_method="client_secret_basic",
                        metadata={"suite": "hydra-sdk-compat"},
                    )
                ),
                201,
            )
            if not client.client_id or not client.client_secret:
                raise Failure(f"client_id/client_secret missing: {client}")
            if client.redirect_uris != [REDIRECT_URI]:
                raise Failure(f"redirect_uris {client.redirect_uris}")
            state["client_id"], state["client_secret"] = client.client_id, client.client_secret
            return note(f"client {client.client_id}")

        if not self.check("create_o_auth2_client", create_client):
            return
        client_id = state["client_id"]
        client_secret = state["client_secret"]

        def get_client() -> str:
            client = self.sdk(
                "get",
                "/admin/clients/{id}",
                lambda: oauth2.get_o_auth2_client_with_http_info(client_id),
                200,
            )
            if client.client_secret:
                raise Failure("the secret was returned by get")
            if client.scope != "openid offline_access profile":
                raise Failure(f"scope {client.scope!r}")
            if client.token_endpoint_auth_method != "client_secret_basic":
                raise Failure(f"token_endpoint_auth_method {client.token_endpoint_auth_method!r}")
            return note()

        self.check("get_o_auth2_client", get_client)

        def second_client() -> str:
            self.sdk(
                "post",
                "/admin/clients",
                lambda: oauth2.create_o_auth2_client_with_http_info(
                    hydra.OAuth2Client(
                        client_name="SDK compat 2",
                        grant_types=["client_credentials"],
                        token_endpoint_auth_method="client_secret_post",
                    )
                ),
                201,
            )
            return note()

        self.check("create_o_auth2_client (second, client_secret_post)", second_client)

        def list_clients() -> str:
            response = oauth2.list_o_auth2_clients_with_http_info(page_size=1)
            if response.status_code != 200:
                raise Failure(f"status {response.status_code}")
            self.last_schema = self.validate("get", "/admin/clients", 200, response.raw_data)
            if len(response.data) != 1:
                raise Failure(f"{len(response.data)} clients on a page of 1")
            link = {k.lower(): v for k, v in (response.headers or {}).items()}.get("link", "")
            if 'rel="next"' not in link:
                raise Failure(f"no Link rel=next with 2 clients and page_size=1: {link!r}")
            token = urllib.parse.parse_qs(
                urllib.parse.urlparse(link.split(";")[0].strip("<> ")).query
            ).get("page_token", [None])[0]
            if not token:
                raise Failure(f"no page_token in {link!r}")
            page2 = self.sdk(
                "get",
                "/admin/clients",
                lambda: oauth2.list_o_auth2_clients_with_http_info(page_size=1, page_token=token),
                200,
            )
            ids = {response.data[0].client_id, page2[0].client_id} if page2 else set()
            if len(ids) != 2:
                raise Failure(f"page 2 did not move on: {ids}")
            return note("2 pages of 1 via Link")

        self.check("list_o_auth2_clients page_size=1 (+ next page)", list_clients)

        def set_client() -> str:
            current = oauth2.get_o_auth2_client(client_id)
            current.client_name = "SDK compat (PUT)"
            current.client_secret = None
            client = self.sdk(
                "put",
                "/admin/clients/{id}",
                lambda: oauth2.set_o_auth2_client_with_http_info(client_id, current),
                200,
            )
            if client.client_name != "SDK compat (PUT)":
                raise Failure(f"client_name {client.client_name!r}")
            return note()

        self.check("set_o_auth2_client (PUT)", set_client)

        def patch_client() -> str:
            client = self.sdk(
                "patch",
                "/admin/clients/{id}",
                lambda: oauth2.patch_o_auth2_client_with_http_info(
                    client_id,
                    [hydra.JsonPatch(op="replace", path="/client_name", value="SDK compat (PATCH)")],
                ),
                200,
            )
            if client.client_name != "SDK compat (PATCH)":
                raise Failure(f"client_name {client.client_name!r}")
            if client.redirect_uris != [REDIRECT_URI]:
                raise Failure(f"PATCH lost redirect_uris: {client.redirect_uris}")
            return note()

        self.check("patch_o_auth2_client (PATCH)", patch_client)

        def lifespans() -> str:
            client = self.sdk(
                "put",
                "/admin/clients/{id}/lifespans",
                lambda: oauth2.set_o_auth2_client_lifespans_with_http_info(
                    client_id,
                    hydra.OAuth2ClientTokenLifespans(
                        client_credentials_grant_access_token_lifespan="30m"
                    ),
                ),
                200,
            )
            got = client.client_credentials_grant_access_token_lifespan
            if got not in ("30m", "30m0s"):
                raise Failure(f"client_credentials_grant_access_token_lifespan {got!r}")
            return note(f"lifespan {got}")

        self.check("set_o_auth2_client_lifespans", lifespans)

        # Tokens: client_credentials through the SDK (basic auth), then introspection.
        def client_credentials() -> str:
            api = hydra.OAuth2Api(
                hydra.ApiClient(
                    hydra.Configuration(
                        host=self.public_url, username=client_id, password=client_secret
                    )
                )
            )
            token = self.sdk(
                "post",
                "/oauth2/token",
                lambda: api.oauth2_token_exchange_with_http_info("client_credentials"),
                200,
            )
            if not token.access_token or (token.token_type or "").lower() != "bearer":
                raise Failure(f"token {token}")
            state["cc_token"] = token.access_token
            return note(f"expires_in {token.expires_in}")

        if self.check("oauth2_token_exchange client_credentials (public, basic auth)", client_credentials):

            def introspect() -> str:
                info = self.sdk(
                    "post",
                    "/admin/oauth2/introspect",
                    lambda: oauth2.introspect_o_auth2_token_with_http_info(state["cc_token"]),
                    200,
                )
                if not info.active or info.client_id != client_id:
                    raise Failure(f"active={info.active} client_id={info.client_id!r}")
                return note(f"active, token_use {info.token_use}")

            self.check("introspect_o_auth2_token (client_credentials token)", introspect)

        def introspect_garbage() -> str:
            info = self.sdk(
                "post",
                "/admin/oauth2/introspect",
                lambda: oauth2.introspect_o_auth2_token_with_http_info("not-a-token"),
                200,
            )
            if info.active:
                raise Failure("an unknown token is active")
            return note("inactive")

        self.check("introspect_o_auth2_token (unknown token)", introspect_garbage)

        # Authorization code flow: the browser part over plain HTTP, the UI part through the SDK.
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        )
        subject = f"sdk-user-{secrets.token_hex(4)}"

        def start_flow() -> str:
            query = urllib.parse.urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": REDIRECT_URI,
                    "scope": "openid offline_access",
                    "state": secrets.token_urlsafe(16),
                    "nonce": secrets.token_urlsafe(16),
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
            status, headers, body = self.browser.get(f"{self.public_url}/oauth2/auth?{query}")
            location = headers.get("Location", "")
            found = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
            if status != 302 or "login_challenge" not in found:
                raise Failure(f"{status} Location={location!r} body={body[:300]!r}")
            state["login_challenge"] = found["login_challenge"][0]
            return "302 to the login UI with login_challenge"

        if not self.check("GET /oauth2/auth (plain HTTP, PKCE S256)", start_flow):
            return self.finish_clients(oauth2, client_id)
        login_challenge = state["login_challenge"]

        def get_login() -> str:
            request = self.sdk(
                "get",
                "/admin/oauth2/auth/requests/login",
                lambda: oauth2.get_o_auth2_login_request_with_http_info(login_challenge),
                200,
            )
            if request.client.client_id != client_id or request.skip:
                raise Failure(f"client {request.client.client_id!r} skip {request.skip}")
            if sorted(request.requested_scope or []) != ["offline_access", "openid"]:
                raise Failure(f"requested_scope {request.requested_scope}")
            return note()

        self.check("get_o_auth2_login_request", get_login)

        def accept_login() -> str:
            redirect = self.sdk(
                "put",
                "/admin/oauth2/auth/requests/login/accept",
                lambda: oauth2.accept_o_auth2_login_request_with_http_info(
                    login_challenge,
                    hydra.AcceptOAuth2LoginRequest(
                        subject=subject, remember=True, remember_for=3600, acr="0", amr=["pwd"]
                    ),
                ),
                200,
            )
            state["login_redirect"] = redirect.redirect_to
            return note()

        if not self.check("accept_o_auth2_login_request", accept_login):
            return self.finish_clients(oauth2, client_id)

        self.check(
            "get_o_auth2_login_request after accept → 410 redirect_to",
            lambda: (
                self.sdk_error(
                    "get",
                    "/admin/oauth2/auth/requests/login",
                    lambda: oauth2.get_o_auth2_login_request_with_http_info(login_challenge),
                    410,
                ),
                note(),
            )[1],
        )

        def to_consent() -> str:
            status, headers, body = self.browser.get(state["login_redirect"])
            location = headers.get("Location", "")
            found = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
            if status != 302 or "consent_challenge" not in found:
                raise Failure(f"{status} Location={location!r} body={body[:300]!r}")
            state["consent_challenge"] = found["consent_challenge"][0]
            return "302 to the consent UI with consent_challenge"

        if not self.check("follow login redirect_to (plain HTTP)", to_consent):
            return self.finish_clients(oauth2, client_id)
        consent_challenge = state["consent_challenge"]

        def get_consent() -> str:
            request = self.sdk(
                "get",
                "/admin/oauth2/auth/requests/consent",
                lambda: oauth2.get_o_auth2_consent_request_with_http_info(consent_challenge),
                200,
            )
            if request.subject != subject or request.client.client_id != client_id:
                raise Failure(f"subject {request.subject!r} client {request.client.client_id!r}")
            return note()

        self.check("get_o_auth2_consent_request", get_consent)

        def accept_consent() -> str:
            redirect = self.sdk(
                "put",
                "/admin/oauth2/auth/requests/consent/accept",
                lambda: oauth2.accept_o_auth2_consent_request_with_http_info(
                    consent_challenge,
                    hydra.AcceptOAuth2ConsentRequest(
                        grant_scope=["openid", "offline_access"],
                        remember=True,
                        remember_for=3600,
                        session=hydra.AcceptOAuth2ConsentRequestSession(
                            id_token={"name": "SDK User"}, access_token={"tier": "gold"}
                        ),
                    ),
                ),
                200,
            )
            state["consent_redirect"] = redirect.redirect_to
            return note()

        if not self.check("accept_o_auth2_consent_request", accept_consent):
            return self.finish_clients(oauth2, client_id)

        def to_callback() -> str:
            status, headers, body = self.browser.get(state["consent_redirect"])
            location = headers.get("Location", "")
            found = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
            if status != 302 or not location.startswith(REDIRECT_URI) or "code" not in found:
                raise Failure(f"{status} Location={location!r} body={body[:300]!r}")
            state["code"] = found["code"][0]
            return "302 to the client's redirect_uri with a code"

        if self.check("follow consent redirect_to (plain HTTP)", to_callback):

            def exchange() -> str:
                # The SDK's oauth2_token_exchange has no code_verifier parameter: plain HTTP.
                status, _, body = self.browser.post_form(
                    f"{self.public_url}/oauth2/token",
                    {
                        "grant_type": "authorization_code",
                        "code": state["code"],
                        "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier,
                    },
                    auth=(client_id, client_secret),
                )
                if status != 200:
                    raise Failure(f"status {status}: {body[:500]!r}")
                self.last_schema = self.validate("post", "/oauth2/token", 200, body)
                tokens = hydra.OAuth2TokenExchange.from_json(body.decode())
                if not (tokens.access_token and tokens.id_token and tokens.refresh_token):
                    raise Failure(f"missing tokens: {sorted(json.loads(body))}")
                state["access_token"] = tokens.access_token
                return note("access, ID and refresh token; parsed by OAuth2TokenExchange")

            if self.check("POST /oauth2/token authorization_code (plain HTTP)", exchange):

                def introspect_user_token() -> str:
                    info = self.sdk(
                        "post",
                        "/admin/oauth2/introspect",
                        lambda: oauth2.introspect_o_auth2_token_with_http_info(
                            state["access_token"]
                        ),
                        200,
                    )
                    if not info.active or info.sub != subject:
                        raise Failure(f"active={info.active} sub={info.sub!r}")
                    if (info.ext or {}).get("tier") != "gold":
                        raise Failure(f"ext {info.ext!r}")
                    return note("active, sub and ext as consented")

                self.check("introspect_o_auth2_token (authorization_code token)", introspect_user_token)

                def userinfo() -> str:
                    api = hydra.OidcApi(
                        hydra.ApiClient(
                            hydra.Configuration(
                                host=self.public_url, access_token=state["access_token"]
                            )
                        )
                    )
                    info = self.sdk("get", "/userinfo", api.get_oidc_user_info_with_http_info, 200)
                    if info.sub != subject:
                        raise Failure(f"sub {info.sub!r}")
                    return note()

                self.check("get_oidc_user_info (public, bearer)", userinfo)

        # Consent sessions.
        def list_sessions() -> str:
            sessions = self.sdk(
                "get",
                "/admin/oauth2/auth/sessions/consent",
                lambda: oauth2.list_o_auth2_consent_sessions_with_http_info(subject),
                200,
            )
            if len(sessions) != 1 or sessions[0].consent_request.client.client_id != client_id:
                raise Failure(f"{len(sessions)} session(s): {sessions}")
            if sorted(sessions[0].grant_scope or []) != ["offline_access", "openid"]:
                raise Failure(f"grant_scope {sessions[0].grant_scope}")
            return note("1 session")

        self.check("list_o_auth2_consent_sessions", list_sessions)

        def revoke_sessions() -> str:
            self.sdk(
                "delete",
                "/admin/oauth2/auth/sessions/consent",
                lambda: oauth2.revoke_o_auth2_consent_sessions_with_http_info(
                    subject, client=client_id
                ),
                204,
            )
            return note()

        self.check("revoke_o_auth2_consent_sessions subject+client", revoke_sessions)

        def sessions_gone() -> str:
            sessions = self.sdk(
                "get",
                "/admin/oauth2/auth/sessions/consent",
                lambda: oauth2.list_o_auth2_consent_sessions_with_http_info(subject),
                200,
            )
            if sessions:
                raise Failure(f"{len(sessions)} session(s) left")
            if "access_token" in state:
                info = oauth2.introspect_o_auth2_token(state["access_token"])
                if info.active:
                    raise Failure("the consent's access token is still active")
            return note("empty; its access token inactive")

        self.check("list_o_auth2_consent_sessions after revoke", sessions_gone)

        self.check(
            "revoke_o_auth2_login_sessions subject",
            lambda: (
                self.sdk(
                    "delete",
                    "/admin/oauth2/auth/sessions/login",
                    lambda: oauth2.revoke_o_auth2_login_sessions_with_http_info(subject=subject),
                    204,
                ),
                note(),
            )[1],
        )

        self.finish_clients(oauth2, client_id)

    def finish_clients(self, oauth2: Any, client_id: str) -> None:
        self.check(
            "list_trusted_o_auth2_jwt_grant_issuers",
            lambda: (
                self.sdk(
                    "get",
                    "/admin/trust/grants/jwt-bearer/issuers",
                    oauth2.list_trusted_o_auth2_jwt_grant_issuers_with_http_info,
                    200,
                ),
                self.last_schema,
            )[1],
        )
        self.check(
            "delete_o_auth2_token client_id",
            lambda: (
                self.sdk(
                    "delete",
                    "/admin/oauth2/tokens",
                    lambda: oauth2.delete_o_auth2_token_with_http_info(client_id),
                    204,
                ),
                self.last_schema,
            )[1],
        )
        self.check(
            "delete_o_auth2_client",
            lambda: (
                self.sdk(
                    "delete",
                    "/admin/clients/{id}",
                    lambda: oauth2.delete_o_auth2_client_with_http_info(client_id),
                    204,
                ),
                self.last_schema,
            )[1],
        )

        def deleted() -> str:
            error = self.sdk_error(
                "get",
                "/admin/clients/{id}",
                lambda: oauth2.get_o_auth2_client_with_http_info(client_id),
                404,
            )
            if not isinstance(error, NotFoundException):
                raise Failure(f"{type(error).__name__}, expected NotFoundException")
            return self.last_schema + "; NotFoundException"

        self.check("get_o_auth2_client after delete → 404", deleted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin", required=True, help="oauth2-svc admin URL")
    parser.add_argument("--public", required=True, help="oauth2-svc public URL (the issuer)")
    parser.add_argument("--openapi", required=True, help="path of Ory's hydra-api.json")
    args = parser.parse_args()

    from importlib.metadata import version

    print(f"ory-hydra-client {version('ory-hydra-client')}, jsonschema {version('jsonschema')}")
    run = Run(args.admin, args.public, OpenApi(args.openapi))
    run.run()
    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
