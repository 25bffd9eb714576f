#!/usr/bin/env python3
"""Drives identity-svc's public and admin APIs with Ory's published Kratos SDK (PyPI
`ory-kratos-client`, v1) and validates every raw response body against Ory's OpenAPI document.

    kratos_sdk_compat.py --admin http://127.0.0.1:4434 --public http://127.0.0.1:4433 \
        --openapi ../shared/reference/openapi/kratos-api.json

As in hydra_sdk_compat.py (whose OpenAPI checker this script shares), each call goes through the
SDK's typed API (its `*_with_http_info` form), so the SDK must accept the status and parse the
body into its models; the raw bytes of the same response are then validated against the schema
the document gives for that operation and status. identity-svc must run with the recovery and
verification flows enabled (mail may stay queued).

Prints one line per check and `N passed, M failed` last; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import traceback
from typing import Any, Callable

import ory_kratos_client as kratos
import pydantic
from ory_kratos_client.exceptions import ApiException, NotFoundException

from hydra_sdk_compat import Failure, OpenApi

PASSWORD = "correct horse battery staple " + secrets.token_hex(4)


class Run:
    def __init__(self, admin: str, public: str, openapi: OpenApi) -> None:
        self.openapi = openapi
        self.admin = kratos.ApiClient(kratos.Configuration(host=admin.rstrip("/")))
        self.public = kratos.ApiClient(kratos.Configuration(host=public.rstrip("/")))
        self.passed = 0
        self.failed = 0
        self.last_schema = ""
        self.state: dict[str, Any] = {}

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

    def note(self, extra: str = "") -> str:
        return self.last_schema + (f"; {extra}" if extra else "")

    # --- the run -------------------------------------------------------------------------

    def run(self) -> None:
        self.metadata()
        self.schemas()
        if not self.identities():
            return
        if not self.registration_and_login():
            return
        self.my_sessions()
        self.settings()
        self.recovery_and_verification()
        self.courier()
        self.admin_sessions()
        self.logout()
        self.delete_identity()

    def metadata(self) -> None:
        api = kratos.MetadataApi(self.admin)
        self.check(
            "is_alive (admin)",
            lambda: (self.sdk("get", "/health/alive", api.is_alive_with_http_info, 200), self.note())[1],
        )
        self.check(
            "is_ready (admin)",
            lambda: (self.sdk("get", "/health/ready", api.is_ready_with_http_info, 200), self.note())[1],
        )
        self.check(
            "get_version (admin)",
            lambda: (self.sdk("get", "/version", api.get_version_with_http_info, 200), self.note())[1],
        )

    def schemas(self) -> None:
        api = kratos.IdentityApi(self.public)

        def listed() -> str:
            schemas = self.sdk("get", "/schemas", api.list_identity_schemas_with_http_info, 200)
            ids = [s.id for s in schemas]
            if "default" not in ids:
                raise Failure(f"no `default` schema in {ids}")
            return self.note(f"{ids}")

        self.check("list_identity_schemas", listed)

        def get() -> str:
            schema = self.sdk(
                "get", "/schemas/{id}", lambda: api.get_identity_schema_with_http_info("default"), 200
            )
            traits = schema["properties"]["traits"]["properties"]
            if "email" not in traits:
                raise Failure(f"no email trait: {list(traits)}")
            return self.note()

        self.check("get_identity_schema default", get)
        self.check(
            "get_identity_schema unknown → 404",
            lambda: (
                self.sdk_error(
                    "get", "/schemas/{id}", lambda: api.get_identity_schema_with_http_info("nope"), 404
                ),
                self.note(),
            )[1],
        )

    def identities(self) -> bool:
        api = kratos.IdentityApi(self.admin)
        email = f"admin-{secrets.token_hex(4)}@olympus.test"

        def create() -> str:
            body = kratos.CreateIdentityBody(
                schema_id="default",
                traits={"email": email, "name": {"first": "Ada", "last": "Lovelace"}},
                credentials=kratos.IdentityWithCredentials(
                    password=kratos.IdentityWithCredentialsPassword(
                        config=kratos.IdentityWithCredentialsPasswordConfig(password=PASSWORD)
                    )
                ),
                metadata_public={"suite": "kratos-sdk-compat"},
            )
            identity = self.sdk(
                "post", "/admin/identities", lambda: api.create_identity_with_http_info(body), 201
            )
            if identity.traits.get("email") != email or identity.state != "active":
                raise Failure(f"traits/state: {identity.traits} {identity.state}")
            self.state["admin_identity"] = identity.id
            return self.note(f"identity {identity.id}")

        if not self.check("create_identity", create):
            return False
        identity_id = self.state["admin_identity"]

        def get() -> str:
            identity = self.sdk(
                "get",
                "/admin/identities/{id}",
                lambda: api.get_identity_with_http_info(identity_id, include_credential=["password"]),
                200,
            )
            if identity.metadata_public != {"suite": "kratos-sdk-compat"}:
                raise Failure(f"metadata_public {identity.metadata_public}")
            password = (identity.credentials or {}).get("password")
            if password is None or email not in password.identifiers:
                raise Failure(f"password credential: {identity.credentials}")
            if "hashed_password" in json.dumps((password.config or {})):
                raise Failure("the password hash was returned")
            return self.note()

        self.check("get_identity", get)

        def listed() -> str:
            identities = self.sdk(
                "get",
                "/admin/identities",
                lambda: api.list_identities_with_http_info(credentials_identifier=email),
                200,
            )
            if [i.id for i in identities] != [identity_id]:
                raise Failure(f"credentials_identifier filter: {[i.id for i in identities]}")
            everyone = self.sdk(
                "get", "/admin/identities", lambda: api.list_identities_with_http_info(page_size=50), 200
            )
            return self.note(f"{len(everyone)} identity(ies)")

        self.check("list_identities", listed)

        def patch() -> str:
            identity = self.sdk(
                "patch",
                "/admin/identities/{id}",
                lambda: api.patch_identity_with_http_info(
                    identity_id,
                    [
                        kratos.JsonPatch(op="replace", path="/traits/name/first", value="Augusta"),
                        kratos.JsonPatch(op="add", path="/metadata_admin", value={"tier": "gold"}),
                    ],
                ),
                200,
            )
            if identity.traits["name"]["first"] != "Augusta":
                raise Failure(f"traits {identity.traits}")
            if identity.metadata_admin != {"tier": "gold"}:
                raise Failure(f"metadata_admin {identity.metadata_admin}")
            return self.note()

        self.check("patch_identity", patch)

        def update() -> str:
            identity = self.sdk(
                "put",
                "/admin/identities/{id}",
                lambda: api.update_identity_with_http_info(
                    identity_id,
                    kratos.UpdateIdentityBody(
                        schema_id="default",
                        state="active",
                        traits={"email": email, "name": {"first": "Ada", "last": "King"}},
                    ),
                ),
                200,
            )
            if identity.traits["name"] != {"first": "Ada", "last": "King"}:
                raise Failure(f"traits {identity.traits}")
            return self.note()

        self.check("update_identity", update)
        self.check(
            "get_identity unknown → 404",
            lambda: (
                self.sdk_error(
                    "get",
                    "/admin/identities/{id}",
                    lambda: api.get_identity_with_http_info("0190b6f6-0000-7000-8000-000000000000"),
                    404,
                ),
                self.note(),
            )[1],
        )
        return True

    def registration_and_login(self) -> bool:
        api = kratos.FrontendApi(self.public)
        email = f"native-{secrets.token_hex(4)}@olympus.test"
        self.state["email"] = email

        def registration() -> str:
            flow = self.sdk(
                "get",
                "/self-service/registration/api",
                api.create_native_registration_flow_with_http_info,
                200,
            )
            names = [getattr(n.attributes.actual_instance, "name", None) for n in flow.ui.nodes]
            if flow.type != "api" or "password" not in names:
                raise Failure(f"type {flow.type}, nodes {names}: no password field")
            self.sdk(
                "get",
                "/self-service/registration/flows",
                lambda: api.get_registration_flow_with_http_info(flow.id),
                200,
            )
            body = kratos.UpdateRegistrationFlowBody(
                kratos.UpdateRegistrationFlowWithPasswordMethod(
                    method="password",
                    password=PASSWORD,
                    traits={"email": email, "name": {"first": "Grace", "last": "Hopper"}},
                )
            )
            done = self.sdk(
                "post",
                "/self-service/registration",
                lambda: api.update_registration_flow_with_http_info(flow.id, body),
                200,
            )
            if done.identity.traits["email"] != email:
                raise Failure(f"traits {done.identity.traits}")
            self.state["identity"] = done.identity.id
            return self.note(f"identity {done.identity.id}, session token: {bool(done.session_token)}")

        if not self.check("create_native_registration_flow + update_registration_flow", registration):
            return False

        def bad_password() -> str:
            flow = self.sdk(
                "get", "/self-service/login/api", api.create_native_login_flow_with_http_info, 200
            )
            body = kratos.UpdateLoginFlowBody(
                kratos.UpdateLoginFlowWithPasswordMethod(
                    method="password", identifier=email, password="not the password at all"
                )
            )
            error = self.sdk_error(
                "post",
                "/self-service/login",
                lambda: api.update_login_flow_with_http_info(flow.id, body),
                400,
            )
            ids = [m["id"] for m in json.loads(error.body)["ui"].get("messages", [])]
            if 4000006 not in ids:
                raise Failure(f"messages {ids}, expected 4000006")
            return self.note("4000006")

        self.check("update_login_flow wrong password → 400 loginFlow", bad_password)

        def login() -> str:
            flow = self.sdk(
                "get", "/self-service/login/api", api.create_native_login_flow_with_http_info, 200
            )
            if flow.type != "api":
                raise Failure(f"type {flow.type}")
            self.sdk(
                "get",
                "/self-service/login/flows",
                lambda: api.get_login_flow_with_http_info(flow.id),
                200,
            )
            body = kratos.UpdateLoginFlowBody(
                kratos.UpdateLoginFlowWithPasswordMethod(
                    method="password", identifier=email, password=PASSWORD
                )
            )
            done = self.sdk(
                "post",
                "/self-service/login",
                lambda: api.update_login_flow_with_http_info(flow.id, body),
                200,
            )
            if not done.session_token or done.session.identity.id != self.state["identity"]:
                raise Failure("no session token, or another identity")
            self.state.setdefault("tokens", []).append(done.session_token)
            return self.note(f"session {done.session.id}")

        if not self.check("create_native_login_flow + update_login_flow", login):
            return False
        self.check("second login (another session)", login)
        self.state["login"] = login

        def whoami() -> str:
            session = self.sdk(
                "get",
                "/sessions/whoami",
                lambda: api.to_session_with_http_info(x_session_token=self.state["tokens"][0]),
                200,
            )
            if not session.active or session.identity.id != self.state["identity"]:
                raise Failure(f"active {session.active}, identity {session.identity.id}")
            if session.authenticator_assurance_level != "aal1":
                raise Failure(f"aal {session.authenticator_assurance_level}")
            self.state["session"] = session.id
            return self.note(f"aal1, {len(session.authentication_methods or [])} method(s)")

        self.check("to_session (whoami) with the session token", whoami)
        self.check(
            "to_session without a token → 401",
            lambda: (
                self.sdk_error("get", "/sessions/whoami", api.to_session_with_http_info, 401),
                self.note(),
            )[1],
        )
        return True

    def my_sessions(self) -> None:
        api = kratos.FrontendApi(self.public)
        first, second = self.state["tokens"][:2]

        def listed() -> str:
            sessions = self.sdk(
                "get",
                "/sessions",
                lambda: api.list_my_sessions_with_http_info(x_session_token=first),
                200,
            )
            if len(sessions) != 1 or sessions[0].id == self.state.get("session"):
                raise Failure(f"{len(sessions)} other session(s), expected the second one")
            self.state["other_session"] = sessions[0].id
            return self.note("the other session")

        if self.check("list_my_sessions", listed):

            def revoke() -> str:
                self.sdk(
                    "delete",
                    "/sessions/{id}",
                    lambda: api.disable_my_session_with_http_info(
                        self.state["other_session"], x_session_token=first
                    ),
                    204,
                )
                self.sdk_error(
                    "get",
                    "/sessions/whoami",
                    lambda: api.to_session_with_http_info(x_session_token=second),
                    401,
                )
                return self.note("the revoked token gets 401")

            self.check("disable_my_session", revoke)
        self.check(
            "disable_my_other_sessions",
            lambda: (
                self.sdk(
                    "delete",
                    "/sessions",
                    lambda: api.disable_my_other_sessions_with_http_info(x_session_token=first),
                    200,
                ),
                self.note(),
            )[1],
        )

    def logout(self) -> None:
        api = kratos.FrontendApi(self.public)

        def logout() -> str:
            self.state["login"]()  # a fresh session: the earlier ones were revoked
            token = self.state["tokens"][-1]
            self.sdk(
                "delete",
                "/self-service/logout/api",
                lambda: api.perform_native_logout_with_http_info(
                    kratos.PerformNativeLogoutBody(session_token=token)
                ),
                204,
            )
            self.sdk_error(
                "get",
                "/sessions/whoami",
                lambda: api.to_session_with_http_info(x_session_token=token),
                401,
            )
            return self.note("the token gets 401 afterwards")

        self.check("perform_native_logout", logout)

    def settings(self) -> None:
        api = kratos.FrontendApi(self.public)
        token = self.state["tokens"][0]

        def profile() -> str:
            flow = self.sdk(
                "get",
                "/self-service/settings/api",
                lambda: api.create_native_settings_flow_with_http_info(x_session_token=token),
                200,
            )
            self.sdk(
                "get",
                "/self-service/settings/flows",
                lambda: api.get_settings_flow_with_http_info(flow.id, x_session_token=token),
                200,
            )
            traits = {"email": self.state["email"], "name": {"first": "Grace", "last": "Murray"}}
            body = kratos.UpdateSettingsFlowBody(
                kratos.UpdateSettingsFlowWithProfileMethod(method="profile", traits=traits)
            )
            done = self.sdk(
                "post",
                "/self-service/settings",
                lambda: api.update_settings_flow_with_http_info(flow.id, body, x_session_token=token),
                200,
            )
            if done.state != "success" or done.identity.traits["name"]["last"] != "Murray":
                raise Failure(f"state {done.state}, traits {done.identity.traits}")
            return self.note("state success")

        self.check("create_native_settings_flow + update_settings_flow (profile)", profile)
        self.check(
            "create_native_settings_flow without a session → 401",
            lambda: (
                self.sdk_error(
                    "get",
                    "/self-service/settings/api",
                    api.create_native_settings_flow_with_http_info,
                    401,
                ),
                self.note(),
            )[1],
        )

    def recovery_and_verification(self) -> None:
        api = kratos.FrontendApi(self.public)

        def recovery() -> str:
            flow = self.sdk(
                "get",
                "/self-service/recovery/api",
                api.create_native_recovery_flow_with_http_info,
                200,
            )
            self.sdk(
                "get",
                "/self-service/recovery/flows",
                lambda: api.get_recovery_flow_with_http_info(flow.id),
                200,
            )
            body = kratos.UpdateRecoveryFlowBody(
                kratos.UpdateRecoveryFlowWithCodeMethod(method="code", email=self.state["email"])
            )
            sent = self.sdk(
                "post",
                "/self-service/recovery",
                lambda: api.update_recovery_flow_with_http_info(flow.id, body),
                200,
            )
            if sent.state != "sent_email":
                raise Failure(f"state {sent.state}")
            return self.note("sent_email")

        self.check("create_native_recovery_flow + update_recovery_flow (email)", recovery)

        def verification() -> str:
            flow = self.sdk(
                "get",
                "/self-service/verification/api",
                api.create_native_verification_flow_with_http_info,
                200,
            )
            self.sdk(
                "get",
                "/self-service/verification/flows",
                lambda: api.get_verification_flow_with_http_info(flow.id),
                200,
            )
            body = kratos.UpdateVerificationFlowBody(
                kratos.UpdateVerificationFlowWithCodeMethod(method="code", email=self.state["email"])
            )
            sent = self.sdk(
                "post",
                "/self-service/verification",
                lambda: api.update_verification_flow_with_http_info(flow.id, body),
                200,
            )
            if sent.state != "sent_email":
                raise Failure(f"state {sent.state}")
            return self.note("sent_email")

        self.check("create_native_verification_flow + update_verification_flow (email)", verification)

        admin = kratos.IdentityApi(self.admin)

        def admin_code() -> str:
            created = self.sdk(
                "post",
                "/admin/recovery/code",
                lambda: admin.create_recovery_code_for_identity_with_http_info(
                    kratos.CreateRecoveryCodeForIdentityBody(
                        identity_id=self.state["identity"], expires_in="15m", flow_type="api"
                    )
                ),
                201,
            )
            flow_id = created.recovery_link.rsplit("flow=", 1)[-1]
            body = kratos.UpdateRecoveryFlowBody(
                kratos.UpdateRecoveryFlowWithCodeMethod(method="code", code=created.recovery_code)
            )
            done = self.sdk(
                "post",
                "/self-service/recovery",
                lambda: api.update_recovery_flow_with_http_info(flow_id, body),
                200,
            )
            if done.state != "passed_challenge":
                raise Failure(f"state {done.state}")
            actions = [c.actual_instance.action for c in done.continue_with or []]
            if "set_ory_session_token" not in actions:
                raise Failure(f"continue_with {actions}")
            return self.note("passed_challenge, session token")

        self.check("create_recovery_code_for_identity + update_recovery_flow (code)", admin_code)

    def courier(self) -> None:
        api = kratos.CourierApi(self.admin)

        def listed() -> str:
            messages = self.sdk(
                "get",
                "/admin/courier/messages",
                lambda: api.list_courier_messages_with_http_info(recipient=self.state["email"]),
                200,
            )
            if len(messages) < 2:
                raise Failure(f"{len(messages)} message(s) to {self.state['email']}, expected 2")
            self.state["message"] = messages[0].id
            return self.note(f"{len(messages)} message(s), {sorted({m.template_type for m in messages})}")

        if self.check("list_courier_messages recipient=", listed):
            self.check(
                "get_courier_message",
                lambda: (
                    self.sdk(
                        "get",
                        "/admin/courier/messages/{id}",
                        lambda: api.get_courier_message_with_http_info(self.state["message"]),
                        200,
                    ),
                    self.note(),
                )[1],
            )

    def admin_sessions(self) -> None:
        api = kratos.IdentityApi(self.admin)
        identity = self.state["identity"]

        def listed() -> str:
            sessions = self.sdk(
                "get",
                "/admin/sessions",
                lambda: api.list_sessions_with_http_info(active=True, expand=["identity"]),
                200,
            )
            if self.state.get("session") not in [s.id for s in sessions]:
                raise Failure("the whoami session is not listed")
            return self.note(f"{len(sessions)} active session(s)")

        self.check("list_sessions (admin)", listed)
        self.check(
            "get_session (admin)",
            lambda: (
                self.sdk(
                    "get",
                    "/admin/sessions/{id}",
                    lambda: api.get_session_with_http_info(self.state["session"], expand=["identity"]),
                    200,
                ),
                self.note(),
            )[1],
        )
        self.check(
            "list_identity_sessions",
            lambda: (
                self.sdk(
                    "get",
                    "/admin/identities/{id}/sessions",
                    lambda: api.list_identity_sessions_with_http_info(identity),
                    200,
                ),
                self.note(),
            )[1],
        )
        self.check(
            "extend_session",
            lambda: (
                self.sdk(
                    "patch",
                    "/admin/sessions/{id}/extend",
                    lambda: api.extend_session_with_http_info(self.state["session"]),
                    204,
                ),
                self.note(),
            )[1],
        )

        def revoke() -> str:
            self.sdk(
                "delete",
                "/admin/sessions/{id}",
                lambda: api.disable_session_with_http_info(self.state["session"]),
                204,
            )
            session = self.sdk(
                "get",
                "/admin/sessions/{id}",
                lambda: api.get_session_with_http_info(self.state["session"]),
                200,
            )
            if session.active:
                raise Failure("still active after disable_session")
            return self.note("inactive")

        self.check("disable_session (admin)", revoke)
        self.check(
            "delete_identity_sessions",
            lambda: (
                self.sdk(
                    "delete",
                    "/admin/identities/{id}/sessions",
                    lambda: api.delete_identity_sessions_with_http_info(identity),
                    204,
                ),
                self.note(),
            )[1],
        )

    def delete_identity(self) -> None:
        api = kratos.IdentityApi(self.admin)
        for key in ("admin_identity", "identity"):
            identity = self.state[key]
            self.check(
                f"delete_identity ({key})",
                lambda: (
                    self.sdk(
                        "delete",
                        "/admin/identities/{id}",
                        lambda: api.delete_identity_with_http_info(identity),
                        204,
                    ),
                    self.note(),
                )[1],
            )

        def gone() -> str:
            error = self.sdk_error(
                "get",
                "/admin/identities/{id}",
                lambda: api.get_identity_with_http_info(self.state["identity"]),
                404,
            )
            if not isinstance(error, NotFoundException):
                raise Failure(f"{type(error).__name__}, expected NotFoundException")
            return self.note("NotFoundException")

        self.check("get_identity after delete → 404", gone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin", required=True, help="identity-svc admin URL")
    parser.add_argument("--public", required=True, help="identity-svc public URL")
    parser.add_argument("--openapi", required=True, help="path of Ory's kratos-api.json")
    args = parser.parse_args()

    from importlib.metadata import version

    print(f"ory-kratos-client {version('ory-kratos-client')}, jsonschema {version('jsonschema')}")
    run = Run(args.admin, args.public, OpenApi(args.openapi))
    run.run()
    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
