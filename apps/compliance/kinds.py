"""Commitment kinds: one promise followed across the SLA versions that made it.

Pure module: no ORM. DESIGN.md ("A period under two SLA versions") scores a period once
per commitment *kind* — the same metric and owner team — never once per version. The
key of a kind is ``"<owner_team>.<metric>"`` ("sales.first_contact_time").

Decisions:

* A version may hold several commitments of one team and metric (first contact within
  2 calendar hours *and* within 4 business hours). They are different promises, told
  apart by their order in the version (position, then id): the second is
  ``"sales.first_contact_time.2"`` and is matched with the second such commitment of
  every other version. Parameters, targets, labels and segments may change from version
  to version: the kind stays the same, each event is judged by its own version's terms.
* The newest version holding a kind speaks for it (its label, parameters, review
  period); kinds are listed in the order of the newest version's commitments, then
  those only older versions held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

__all__ = ["CommitmentLike", "kind_key", "kind_keys", "kinds_in_order", "parse_kind_key"]


class CommitmentLike(Protocol):
    pk: Any
    version_id: Any
    position: int
    owner_team: str
    metric: str


def kind_key(owner_team: str, metric: str, ordinal: int = 1) -> str:
    """``"sales.first_contact_time"``; ``".2"`` appended for the second of a version."""
    base = f"{owner_team}.{metric}"
    return base if ordinal == 1 else f"{base}.{ordinal}"


def parse_kind_key(key: str) -> tuple[str, str, int]:
    """(owner_team, metric, ordinal) of a key; ValueError naming the expected form."""
    parts = key.split(".")
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1], 1
    if len(parts) == 3 and all(parts) and parts[2].isdigit() and int(parts[2]) >= 2:
        return parts[0], parts[1], int(parts[2])
    raise ValueError(
        f"“{key}” is not a commitment kind: expected <team>.<metric>, "
        "e.g. sales.first_contact_time (or sales.first_contact_time.2 for a second one)"
    )


def kind_keys(commitments: Iterable[CommitmentLike]) -> dict[Any, str]:
    """The kind key of each commitment (by pk), numbering same-team same-metric siblings of
    a version in (position, id) order. Pass every commitment of each version involved."""
    by_version: dict[Any, list[CommitmentLike]] = defaultdict(list)
    for commitment in commitments:
        by_version[commitment.version_id].append(commitment)
    keys: dict[Any, str] = {}
    for siblings in by_version.values():
        seen: dict[tuple[str, str], int] = defaultdict(int)
        for commitment in sorted(siblings, key=lambda c: (c.position, c.pk)):
            pair = (commitment.owner_team, commitment.metric)
            seen[pair] += 1
            keys[commitment.pk] = kind_key(*pair, seen[pair])
    return keys


def kinds_in_order(
    commitments: Sequence[CommitmentLike], *, newest_first_versions: Sequence[Any]
) -> list[tuple[str, list[CommitmentLike]]]:
    """Group commitments by kind: [(key, [one commitment per version, oldest version first])],
    kinds ordered by the newest version holding them, then by position there.
    ``newest_first_versions`` lists the version ids from the newest to the oldest."""
    rank = {version: index for index, version in enumerate(newest_first_versions)}
    keys = kind_keys(commitments)
    ordered = sorted(
        commitments, key=lambda c: (rank.get(c.version_id, len(rank)), c.position, c.pk)
    )
    groups: dict[str, list[CommitmentLike]] = {}
    for commitment in ordered:
        groups.setdefault(keys[commitment.pk], []).append(commitment)
    return [(key, list(reversed(members))) for key, members in groups.items()]
