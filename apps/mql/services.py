"""Writes of the MQL engine: definitions and qualification."""

from collections.abc import Iterable
from datetime import datetime


def leads_qualify(*, lead_ids: Iterable[int], now: datetime | None = None) -> list:
    """SEAM (issue 4 owner replaces): evaluate the touched leads; create MqlEvents for new MQLs,
    move them to stage mql (mql_at = the qualifying fact's time), then call
    apps.leads.services.leads_route and apps.sla.services.clocks_open. Returns the new MqlEvents."""
    return []
