"""HMAC-SHA256 signatures of inbound webhooks (pure: no Django, `now` passed in).

The sender signs `f"{timestamp}.{raw body}"` with the organization's signing
secret and sends `X-Handoff-Timestamp: <unix seconds>` and
`X-Handoff-Signature: sha256=<hex digest>`. Signing the timestamp too means a
captured request cannot be replayed after the tolerance window (an old lead
update replayed later would undo newer changes).
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300
SCHEME = "sha256="


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender puts in X-Handoff-Signature."""
    message = timestamp.encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_problem(
    *, secret: str, signature: str | None, timestamp: str | None, body: bytes, now: float
) -> str | None:
    """Why a signed request must be refused, or None when it is authentic and fresh."""
    if not signature or not timestamp:
        return "Missing X-Handoff-Signature or X-Handoff-Timestamp header."
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Handoff-Timestamp must be Unix seconds."
    if abs(now - sent) > TOLERANCE_SECONDS:
        return "Timestamp outside the 5-minute window; check the sender's clock."
    if not hmac.compare_digest(signature.strip(), signature_for(secret, timestamp, body)):
        return "Signature does not match."
    return None
