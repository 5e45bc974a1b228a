"""Bearer tokens: `hk_<prefix>_<secret>`. Only the SHA-256 of the whole token is stored.

The prefix is stored in clear and indexed, so a lookup is one indexed read and
the hash comparison is constant-time; a database leak reveals no usable token.
"""

import hashlib
import hmac
import secrets

TOKEN_SCHEME = "hk"  # noqa: S105 - a token prefix, not a secret


def token_generate() -> tuple[str, str]:
    """A new random token and its lookup prefix."""
    prefix = secrets.token_hex(6)
    return f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def token_hash(token: str) -> str:
    """Hex SHA-256 of a token (tokens carry 256 bits of randomness, so no salt or stretching is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, None for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or len(parts[1]) != 12:
        return None
    return parts[1]


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
