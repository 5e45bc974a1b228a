"""Permission-matrix rows of the queue, reason codes, feedback page and dispositions API."""

from apps.accounts.roles import Capability, roles_for
from tests.support.access import EVERYONE, INTEGRATION, Row

# From the one capability table (apps/accounts/roles.py), as README's roles table.
REP = roles_for(Capability.OWN_QUEUE)
SALES_LEADER = roles_for(Capability.TEAM_QUEUE)
WORKERS = roles_for(Capability.WORK_LEADS)
REASON_CODE_EDITORS = roles_for(Capability.REASON_CODES)
FEEDBACK_READERS = frozenset({"marketing_leader", "marketer", "executive", "admin", "sales_leader"})
API_WORKERS = WORKERS | {INTEGRATION}
API_READERS = EVERYONE | {INTEGRATION}


def _missing(env) -> dict:
    return {"pk": 999999}


ACCESS = {
    "dispositions:my_queue": Row(REP),
    "dispositions:team_queue": Row(SALES_LEADER),
    "dispositions:touch_create": Row(WORKERS, kwargs=_missing),
    "dispositions:disposition_create": Row(WORKERS, kwargs=_missing),
    "dispositions:disposition_bulk": Row(WORKERS),
    "dispositions:disposition_undo": Row(WORKERS, kwargs=_missing),
    "dispositions:lead_reassign": Row(SALES_LEADER, kwargs=_missing),
    "dispositions:reason_codes": Row(REASON_CODE_EDITORS),
    "dispositions:reason_code_rename": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "dispositions:reason_code_move": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "dispositions:reason_code_retire": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "dispositions:reason_code_restore": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "dispositions:feedback": Row(FEEDBACK_READERS),
    "dispositions:nurture_export": Row(FEEDBACK_READERS),
    "api:dispositions:disposition_create": Row(API_WORKERS),
    "api:dispositions:disposition_bulk": Row(API_WORKERS),
    "api:dispositions:lead_disposition_list": Row(
        API_READERS, kwargs=lambda env: {"external_id": "no-such-lead"}
    ),
    "api:dispositions:reason_code_list": Row(API_READERS),
    "api:dispositions:reason_code_detail": Row(API_READERS, kwargs=_missing),
    # POST-only: the allowed roles get 405 on GET, everyone else 403.
    "api:dispositions:reason_code_reorder": Row(REASON_CODE_EDITORS),
    "api:dispositions:reason_code_retire": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "api:dispositions:reason_code_restore": Row(REASON_CODE_EDITORS, kwargs=_missing),
    "api:dispositions:touch_create": Row(API_WORKERS),
    "api:dispositions:touch_bulk": Row(API_WORKERS),
}
