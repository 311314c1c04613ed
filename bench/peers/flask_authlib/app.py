"""Flask + Authlib authorization server: the peer for mobproc's benchmarks.

Set up as Authlib's Flask guide and its example-oauth2-server show it
(sqla_oauth2 mixins, AuthorizationServer, register_grant / register_endpoint);
only the user table and the argon2id hashing are ours.

    python app.py provision --db PATH --client-id ID --client-secret S --users N --password P
    python app.py tokens --db PATH --count N          # bulk-insert N live tokens (growth case)
    BENCH_DB=PATH flask --app app:create_app run       # as shipped: Werkzeug server
    BENCH_DB=PATH BENCH_WAL=1 gunicorn 'app:create_app()'   # tuned
"""

import argparse
import os
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.sqla_oauth2 import (
    OAuth2ClientMixin,
    OAuth2TokenMixin,
    create_query_client_func,
    create_query_token_func,
    create_save_token_func,
)
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

# Same argon2id parameters as mobproc's user passwords (OWASP's minimum).
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
db = SQLAlchemy()
# Both methods, because the benchmark sends client_id/client_secret in the form
# as mobproc's clients do, while Authlib only allows Basic by default.
CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), unique=True, nullable=False)
    password_hash = db.Column(db.String(200), nullable=False)

    def get_user_id(self):
        return self.id


class OAuth2Client(db.Model, OAuth2ClientMixin):
    __tablename__ = "oauth2_client"
    id = db.Column(db.Integer, primary_key=True)


class OAuth2Token(db.Model, OAuth2TokenMixin):
    __tablename__ = "oauth2_token"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"))

    def is_refresh_token_active(self):
        return not self.refresh_token_revoked_at and not self.is_expired()


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def authenticate_user(self, username, password):
        user = db.session.query(User).filter_by(username=username).first()
        if user is None:
            return None
        try:
            hasher.verify(user.password_hash, password)
        except VerificationError:
            return None
        return user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate, as mobproc does

    def authenticate_refresh_token(self, refresh_token):
        token = db.session.query(OAuth2Token).filter_by(refresh_token=refresh_token).first()
        if token and token.is_refresh_token_active():
            return token

    def authenticate_user(self, credential):
        return db.session.get(User, credential.user_id)

    def revoke_old_credential(self, credential):
        credential.refresh_token_revoked_at = int(time.time())
        db.session.add(credential)
        db.session.commit()


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def query_token(self, token_string, token_type_hint):
        return _query_token(token_string, token_type_hint)

    def introspect_token(self, token):
        user = db.session.get(User, token.user_id) if token.user_id else None
        return {
            "active": True,
            "client_id": token.client_id,
            "token_type": token.token_type,
            "username": user.username if user else None,
            "scope": token.get_scope(),
            "exp": token.issued_at + token.expires_in,
            "iat": token.issued_at,
        }

    def check_permission(self, token, client, request):
        return True  # any authenticated client of ours is a resource server


_query_token = create_query_token_func(db.session, OAuth2Token)


def create_app():
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.abspath(os.environ["BENCH_DB"])
    # Authlib issues refresh tokens only when asked to (its documented setting);
    # lifetimes as mobproc's: 2 h access tokens.
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = dict.fromkeys(
        ("password", "refresh_token", "client_credentials"), 7200)
    db.init_app(app)
    if os.environ.get("BENCH_WAL") == "1":
        with app.app_context():
            event.listen(db.engine, "connect", _tune_sqlite)

    server = AuthorizationServer(
        app,
        query_client=create_query_client_func(db.session, OAuth2Client),
        save_token=create_save_token_func(db.session, OAuth2Token),
    )
    server.register_grant(PasswordGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Introspection)

    @app.post("/oauth/token")
    def issue_token():
        return server.create_token_response()

    @app.post("/oauth/introspect")
    def introspect():
        return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

    return app


def _tune_sqlite(dbapi_conn, _record):
    # What an operator does for a concurrent SQLite server: WAL, and the sync
    # level that SQLite documents as safe with WAL.
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def provision(args):
    app = create_app()
    with app.app_context():
        db.create_all()
        client = OAuth2Client(client_id=args.client_id, client_secret=args.client_secret,
                              client_id_issued_at=int(time.time()))
        client.set_client_metadata({
            "client_name": "bench",
            "grant_types": ["password", "refresh_token", "client_credentials"],
            "scope": "MOBPROC",
            "token_endpoint_auth_method": "client_secret_post",
        })
        db.session.add(client)
        for i in range(args.users):
            db.session.add(User(username=f"{args.username_prefix}{i}",
                                password_hash=hasher.hash(args.password)))
        db.session.commit()


def bulk_tokens(args):
    """Insert live tokens straight into the table, as many grants as --count."""
    import sqlite3

    con = sqlite3.connect(args.db)
    now = int(time.time())
    client_id, = con.execute("SELECT client_id FROM oauth2_client LIMIT 1").fetchone()
    user_id, = con.execute("SELECT id FROM user LIMIT 1").fetchone()
    rows = ((client_id, "Bearer", secrets.token_urlsafe(32), secrets.token_urlsafe(36), "MOBPROC",
             now, 0, 0, 86400, user_id) for _ in range(args.count))
    with con:
        con.executemany(
            "INSERT INTO oauth2_token (client_id, token_type, access_token, refresh_token, scope,"
            " issued_at, access_token_revoked_at, refresh_token_revoked_at, expires_in, user_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    con.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("provision")
    pp.add_argument("--db", required=True)
    pp.add_argument("--client-id", required=True)
    pp.add_argument("--client-secret", required=True)
    pp.add_argument("--users", type=int, default=1)
    pp.add_argument("--username-prefix", default="user")
    pp.add_argument("--password", required=True)
    pt = sub.add_parser("tokens")
    pt.add_argument("--db", required=True)
    pt.add_argument("--count", type=int, required=True)
    a = p.parse_args()
    os.environ["BENCH_DB"] = a.db
    provision(a) if a.cmd == "provision" else bulk_tokens(a)
