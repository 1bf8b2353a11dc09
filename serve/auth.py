"""Secrets and the admin token rule: mutating endpoints need `Authorization: Bearer <token>`; with no token configured they are refused, not open.

The admin token comes from $FLOWSCHEME_ADMIN_TOKEN or --admin-token-file, the
webhook secret from $FLOWSCHEME_WEBHOOK_SECRET or --webhook-secret-file (a
file's surrounding whitespace is ignored). Tokens are compared with
hmac.compare_digest.
"""

import hmac
import os

ADMIN_ENV = "FLOWSCHEME_ADMIN_TOKEN"
WEBHOOK_ENV = "FLOWSCHEME_WEBHOOK_SECRET"
MIN_SECRET = 16  # bytes: shorter secrets are refused at start


class AuthError(Exception):
    """Refused: status 401 (no or wrong credentials) or 403 (none configured)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class SecretError(ValueError):
    """A secret that cannot be used (unreadable file, too short)."""


def load_secret(env_name, path=None, what="secret", environ=None):
    """The secret from file `path` (when given) or environment variable env_name, as bytes; None if neither."""
    environ = os.environ if environ is None else environ
    if path is not None:
        try:
            with open(path, "rb") as f:
                value = f.read().strip()
        except OSError as e:
            raise SecretError(f"cannot read the {what} file {path}: {e.strerror or e}") from None
        source = path
    else:
        text = environ.get(env_name)
        if text is None or not text.strip():
            return None
        value = text.strip().encode("utf-8")
        source = f"${env_name}"
    if len(value) < MIN_SECRET:
        raise SecretError(f"the {what} in {source} is too short ({len(value)} bytes; at least {MIN_SECRET})")
    return value


class AdminToken:
    def __init__(self, token):
        self.token = token  # bytes or None

    def check(self, authorization):
        """Raise AuthError unless `authorization` (the header's value, or None) carries the token."""
        if self.token is None:
            raise AuthError(403, "this endpoint changes state and no admin token is configured: set "
                                 f"{ADMIN_ENV} or start `flowscheme serve` with --admin-token-file FILE, then "
                                 "send Authorization: Bearer <token>")
        if not authorization:
            raise AuthError(401, "missing Authorization: Bearer <admin token>")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AuthError(401, "the Authorization header must be Bearer <admin token>")
        if not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), self.token):
            raise AuthError(401, "wrong admin token")
