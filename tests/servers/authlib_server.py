"""A real OAuth2 authorization and resource server for the integration tests.

`tests/authlib.rs` starts this script once per test, reads the address from
the first line it prints, and talks to it over plain HTTP on 127.0.0.1. It
is built from Authlib's own Flask integration (`AuthorizationServer` and
`ResourceProtector`) so the tests check the crate against a server that
somebody else wrote, not against a mock that shares our reading of the RFCs.
Storage is a few dicts in memory: every run starts empty.

Endpoints:

    POST /oauth/token            client_credentials, password, refresh_token;
                                 refresh tokens rotate: each refresh issues a
                                 new one and revokes the old one
    POST /oauth/token-no-rotate  the same grants, but a refresh keeps the old
                                 refresh token, which stays valid
    GET  /api/me                 needs a valid bearer token, else 401
    GET  /_stats                 JSON counters of what the server has seen

Both token endpoints issue tokens that live `--lifetime` seconds. A refresh
revokes only the old refresh token, never the old access token: a client
that refreshes ahead still has requests in flight with the old one.

Clients (see CLIENTS) each accept one authentication method, so a request
that authenticates the wrong way fails with `invalid_client`. The one user
is USERNAME / PASSWORD.

The server listens on 127.0.0.1 only, on a free port unless `--port` names
one, and prints `LISTENING 127.0.0.1:PORT` as its first line. It exits when
its standard input closes or on SIGTERM, so a test that dies, however it
dies, never leaves it running. Run by hand:

    tests/servers/.venv/bin/python tests/servers/authlib_server.py --lifetime 2
"""

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask
from flask import jsonify
from flask import request
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

USERNAME = "alice"
PASSWORD = "correct horse battery staple"

GRANT_TYPES = ("client_credentials", "password", "refresh_token")

# client_id -> (secret, the one token endpoint auth method it may use). The
# last two have characters that RFC 6749 section 2.3.1 says must be
# form-encoded before HTTP Basic, which Authlib decodes again (with
# `unquote`, so a `+` stays a `+` rather than becoming a space).
CLIENTS = {
    "basic-client": ("basic-secret", "client_secret_basic"),
    "post-client": ("post-secret", "client_secret_post"),
    "odd:client/id": ("p@ss:w/rd+%&=~", "client_secret_basic"),
    "spaced client": ("a secret with spaces", "client_secret_basic"),
}

ALLOWED_SCOPES = ("profile", "orders")


class Client(ClientMixin):
    def __init__(self, client_id, secret, auth_method):
        self.client_id = client_id
        self.secret = secret
        self.auth_method = auth_method

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        # An empty string, not None: None makes Authlib refuse the request
        # with invalid_scope when the client asks for no scope at all.
        allowed = [s for s in scope_to_list(scope) or [] if s in ALLOWED_SCOPES]
        return list_to_scope(allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.auth_method

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in GRANT_TYPES


class Token(TokenMixin):
    """One issued token. A float `issued_at` keeps the expiry exact: with
    the whole seconds a database column would hold, a 2-second token could
    expire up to a second before the client has been told it does."""

    def __init__(self, client, user, token):
        self.client = client
        self.user = user
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        self.scope = token.get("scope", "")
        self.expires_in = token["expires_in"]
        self.issued_at = time.time()
        self.refresh_revoked = False

    def check_client(self, client):
        return self.client.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return False

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


class Store:
    """Clients, tokens and counters, shared by the server's threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {
            cid: Client(cid, secret, method)
            for cid, (secret, method) in CLIENTS.items()
        }
        self.by_access = {}
        self.by_refresh = {}
        self.counters = Counter()

    def count(self, key):
        with self.lock:
            self.counters[key] += 1

    def query_client(self, client_id):
        return self.clients.get(client_id)

    def save_token(self, token, req):
        record = Token(req.client, req.user, token)
        with self.lock:
            self.by_access[record.access_token] = record
            if record.refresh_token:
                self.by_refresh[record.refresh_token] = record

    def access_token(self, value):
        with self.lock:
            return self.by_access.get(value)

    def refresh_token(self, value):
        with self.lock:
            record = self.by_refresh.get(value)
        if record is not None and not record.refresh_revoked:
            return record
        return None


def grant_classes(store, rotate):
    # The base grant accepts only client_secret_basic; allowing both lets
    # each client's own check_endpoint_auth_method decide.
    methods = ["client_secret_basic", "client_secret_post"]

    class ClientCredentials(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = methods

    class Password(grants.ResourceOwnerPasswordCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = methods

        def authenticate_user(self, username, password):
            if username == USERNAME and secrets.compare_digest(
                password, PASSWORD
            ):
                return USERNAME
            return None

    class Refresh(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = methods
        INCLUDE_NEW_REFRESH_TOKEN = rotate

        def authenticate_refresh_token(self, refresh_token):
            return store.refresh_token(refresh_token)

        def authenticate_user(self, refresh_token):
            # Only password tokens carry a refresh token (Authlib issues
            # none for client credentials), so there is always a user.
            return refresh_token.user

        def revoke_old_credential(self, refresh_token):
            if rotate:
                refresh_token.refresh_revoked = True

    return ClientCredentials, Password, Refresh


def authorization_server(app, store, rotate):
    server = AuthorizationServer(
        app, query_client=store.query_client, save_token=store.save_token
    )
    for grant in grant_classes(store, rotate):
        server.register_grant(grant)
    return server


def create_app(lifetime):
    app = Flask(__name__)
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {g: lifetime for g in GRANT_TYPES}
    store = Store()
    servers = {
        "/oauth/token": authorization_server(app, store, rotate=True),
        "/oauth/token-no-rotate": authorization_server(app, store, rotate=False),
    }

    class Validator(BearerTokenValidator):
        def authenticate_token(self, token_string):
            return store.access_token(token_string)

    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(Validator())

    def token_endpoint():
        grant_type = request.form.get("grant_type", "?")
        store.count(f"token.{grant_type}")
        response = servers[request.path].create_token_response()
        if response.status_code != 200:
            error = (response.get_json(silent=True) or {}).get("error", "?")
            store.count(f"token.{grant_type}.{error}")
        return response

    for path in servers:
        app.add_url_rule(path, path, token_endpoint, methods=["POST"])

    @app.get("/api/me")
    @require_oauth()
    def me():
        return jsonify(
            client_id=current_token.client.client_id,
            user=current_token.user,
            scope=current_token.scope,
        )

    @app.after_request
    def count_api(response):
        if request.path.startswith("/api/"):
            store.count(f"api.{response.status_code}")
        return response

    @app.get("/_stats")
    def stats():
        with store.lock:
            return jsonify(dict(store.counters))

    return app


class QuietHandler(WSGIRequestHandler):
    """Logs nothing per request: the test output stays readable."""

    def log_request(self, code="-", size="-"):
        pass


def exit_when_stdin_closes():
    # EOF means the test process that holds the other end is gone.
    for _ in sys.stdin.buffer:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=0, help="0 (the default) picks a free one"
    )
    parser.add_argument(
        "--lifetime",
        type=int,
        default=2,
        help="access token lifetime in seconds (default 2)",
    )
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()

    app = create_app(args.lifetime)
    server = make_server(
        "127.0.0.1",
        args.port,
        app,
        threaded=True,
        request_handler=QuietHandler,
    )
    print(f"LISTENING 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
