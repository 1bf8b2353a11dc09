"""Signed payment webhooks: the signature scheme and its checks (HMAC-SHA256 of "<timestamp>.<raw body>", a 5-minute window).

    X-Flowscheme-Timestamp: 1796284193                  (Unix seconds)
    X-Flowscheme-Signature: v1=<hex HMAC-SHA256(secret, "1796284193." + raw body)>

Several `v1=` signatures may be given, comma-separated (a secret being
rotated): one matching is enough. A delivery is refused (nothing recorded)
when the signature is missing, malformed or wrong, or its timestamp is more
than TOLERANCE seconds from now either way. The body is JSON:
{"order": "o-1", "payment_ref": "pay-77", "amount": 2100}.
"""

import hashlib
import hmac
import json
import re

TIMESTAMP_HEADER = "X-Flowscheme-Timestamp"
SIGNATURE_HEADER = "X-Flowscheme-Signature"
TOLERANCE = 5 * 60
_HEX = re.compile(r"[0-9a-f]{64}\Z")


class WebhookRefused(Exception):
    """A delivery refused before anything ran: `outcome` names why (for metrics)."""

    def __init__(self, status, outcome, message):
        super().__init__(message)
        self.status, self.outcome, self.message = status, outcome, message


def signature(secret, timestamp, body):
    """The hex HMAC-SHA256 of "<timestamp>.<body>" under secret (bytes)."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret, timestamp, body):
    """The two headers of a delivery of `body` (bytes) at `timestamp` (int seconds)."""
    return {TIMESTAMP_HEADER: str(int(timestamp)), SIGNATURE_HEADER: f"v1={signature(secret, int(timestamp), body)}"}


def verify(secret, timestamp_header, signature_header, body, now, tolerance=TOLERANCE):
    """Check a delivery; raise WebhookRefused (401) unless it is signed with secret and fresh."""
    if secret is None:
        raise WebhookRefused(403, "not-configured", "no webhook secret is configured: set FLOWSCHEME_WEBHOOK_SECRET "
                                                    "or start `flowscheme serve` with --webhook-secret-file FILE")
    if not signature_header:
        raise WebhookRefused(401, "bad-signature", f"missing {SIGNATURE_HEADER} header")
    if not timestamp_header:
        raise WebhookRefused(401, "bad-signature", f"missing {TIMESTAMP_HEADER} header")
    ts = timestamp_header.strip()
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        raise WebhookRefused(401, "bad-signature", f"{TIMESTAMP_HEADER} must be Unix seconds (digits)")
    given = [part.strip()[3:] for part in signature_header.split(",") if part.strip().startswith("v1=")]
    given = [g for g in given if _HEX.match(g)]
    if not given:
        raise WebhookRefused(401, "bad-signature", f"{SIGNATURE_HEADER} must be v1=<64 hex digits>")
    expected = signature(secret, ts, body).encode("ascii")
    ok = False
    for g in given:  # (every one compared: the time taken does not say which matched)
        ok = hmac.compare_digest(g.encode("ascii"), expected) | ok
    if not ok:
        raise WebhookRefused(401, "bad-signature", "the signature does not match the body and timestamp")
    age = now - int(ts)
    if age > tolerance:
        raise WebhookRefused(401, "stale", f"the timestamp is {int(age)} s old (at most {tolerance} s): "
                                           f"refused as a possible replay; sign it again")
    if age < -tolerance:
        raise WebhookRefused(401, "stale", f"the timestamp is {int(-age)} s in the future (at most {tolerance} s)")


def payment(body):
    """(order, payment_ref, amount) from a verified body; WebhookRefused (400) when it is not that shape."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRefused(400, "bad-body", "the body must be JSON: {\"order\", \"payment_ref\", \"amount\"}") \
            from None
    if not isinstance(data, dict):
        raise WebhookRefused(400, "bad-body", "the body must be a JSON object")
    missing = [k for k in ("order", "payment_ref", "amount") if k not in data]
    if missing:
        raise WebhookRefused(400, "bad-body", f"the body lacks {', '.join(missing)}")
    return data["order"], data["payment_ref"], data["amount"]
