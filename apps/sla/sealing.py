"""Keyed, chained evidence of sign-off: HMACs with a key that lives outside the database.

Pure module: no ORM, no settings. The content hash (apps/sla/snapshots.py) is a bare
SHA-256 anyone can recompute, which is what makes the content verifiable — and what
lets anyone with write access rewrite content and hash together. The MACs here close
that gap: only the holder of a signing key can make one.

Decisions:
- A key is ``(key_id, secret)``; the configured keys form a ring, the first signs, all
  verify (rotation: put the new key first, keep the old ones while anything signed
  with them must still verify). Every MAC is stored with the id of its key.
- A **signature MAC** covers the signature's own fields (version, round, team, role,
  signer, time, channel, address, agent), the content hash the signer signed, its
  position in the organization's chain (``sequence``) and the MAC of the signature
  before it. Changing a signature breaks its MAC; removing one breaks the link of the
  next; adding one needs the key.
- A **version seal** covers a version's sign-off state: status, round, content hash,
  effective/superseded/submitted/activated times, the sequence numbers of all its
  signatures and the MAC of the last. A signature deleted from the end of the chain, a
  status flipped to "superseded" or an interval moved is caught by it.
- Payloads are canonical JSON (sorted keys, no whitespace, UTF-8) with a ``kind`` and
  a format number, so a signature MAC can never be replayed as a seal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SIGNATURE_KIND = "handoff.sla.signature"
SEAL_KIND = "handoff.sla.version-seal"
FORMAT = 1
MIN_SECRET_LENGTH = 32


class SigningKeyError(ValueError):
    """The configured signing keys cannot be used."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never print the secret
        return f"SigningKey({self.key_id!r})"


@dataclass(frozen=True)
class KeyRing:
    """The configured keys, the current (signing) one first."""

    keys: tuple[SigningKey, ...]

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def get(self, key_id: str) -> SigningKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    def rank(self, key_id: str) -> int | None:
        """0 for the current key, higher for older ones; None for an unknown id."""
        return next((i for i, key in enumerate(self.keys) if key.key_id == key_id), None)


def parse_keys(text: str) -> KeyRing:
    """``"id2:secret2,id1:secret1"`` → a ring whose first key signs. Raises SigningKeyError."""
    keys = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, secret = part.partition(":")
        key_id, secret = key_id.strip(), secret.strip()
        if not sep or not key_id or not secret:
            raise SigningKeyError(
                "Write each signing key as <key id>:<secret>, separated by commas."
            )
        if len(key_id) > 32 or not key_id.replace("-", "").replace("_", "").isalnum():
            raise SigningKeyError(f"Key id {key_id!r}: use up to 32 letters, digits, - or _.")
        if len(secret) < MIN_SECRET_LENGTH:
            raise SigningKeyError(
                f"The secret of key {key_id!r} is too short: use at least "
                f"{MIN_SECRET_LENGTH} random characters."
            )
        if any(key.key_id == key_id for key in keys):
            raise SigningKeyError(f"Key id {key_id!r} appears twice.")
        keys.append(SigningKey(key_id=key_id, secret=secret.encode()))
    if not keys:
        raise SigningKeyError("No signing key is configured.")
    return KeyRing(keys=tuple(keys))


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def mac(key: SigningKey, payload: Mapping[str, Any]) -> str:
    """Hex HMAC-SHA256 of the canonical payload."""
    return hmac.new(key.secret, _canonical(payload), hashlib.sha256).hexdigest()


def mac_matches(ring: KeyRing, key_id: str, payload: Mapping[str, Any], stored: str) -> bool | None:
    """Whether ``stored`` is the MAC of ``payload`` under key ``key_id``; None if the key is unknown."""
    key = ring.get(key_id)
    if key is None:
        return None
    return hmac.compare_digest(mac(key, payload), stored or "")


def signature_payload(
    *,
    sequence: int,
    version_id: int,
    contract_id: int,
    number: int,
    round_: int,
    team: str,
    role: str,
    signer_id: int,
    signed_at: str,
    channel: str,
    ip_address: str | None,
    user_agent: str,
    content_hash: str,
    previous_mac: str,
) -> dict[str, Any]:
    """What a signature's MAC covers (times as ISO 8601 UTC strings)."""
    return {
        "kind": SIGNATURE_KIND,
        "format": FORMAT,
        "sequence": sequence,
        "version": version_id,
        "contract": contract_id,
        "number": number,
        "round": round_,
        "team": team,
        "role": role,
        "signer": signer_id,
        "signed_at": signed_at,
        "channel": channel,
        "ip_address": ip_address or None,
        "user_agent": user_agent or "",
        "content_hash": content_hash,
        "previous": previous_mac or "",
    }


def seal_payload(
    *,
    version_id: int,
    contract_id: int,
    number: int,
    status: str,
    round_: int,
    content_hash: str,
    effective_at: str | None,
    superseded_at: str | None,
    submitted_at: str | None,
    activated_at: str | None,
    signature_sequences: Sequence[int],
    head_mac: str,
) -> dict[str, Any]:
    """What a version's seal covers (times as ISO 8601 UTC strings)."""
    return {
        "kind": SEAL_KIND,
        "format": FORMAT,
        "version": version_id,
        "contract": contract_id,
        "number": number,
        "status": status,
        "round": round_,
        "content_hash": content_hash,
        "effective_at": effective_at,
        "superseded_at": superseded_at,
        "submitted_at": submitted_at,
        "activated_at": activated_at,
        "signatures": sorted(signature_sequences),
        "head": head_mac or "",
    }
