"""Shared vocabulary of the permission-matrix tables in tests/<app>/access.py."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = ("admin", "executive", "marketing_leader", "marketer", "sales_leader", "rep")
INTEGRATION = "integration"
PUBLIC = frozenset({"<public>"})
EVERYONE = frozenset(ROLES)
ADMIN_ONLY = frozenset({"admin"})


@dataclass(frozen=True)
class Row:
    roles: frozenset[str]
    kwargs: Callable[[Any], dict] = field(default=lambda env: {})
