"""Permission-matrix rows of the queue, reason codes, feedback page and dispositions API."""

from tests.support.access import EVERYONE, INTEGRATION, Row

REP = frozenset({"rep"})
SALES_LEADER = frozenset({"sales_leader"})
WORKERS = frozenset({"rep", "sales_leader"})
REASON_CODE_EDITORS = frozenset({"sales_leader", "admin"})
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
    "api:dispositions:touch_create": Row(API_WORKERS),
    "api:dispositions:touch_bulk": Row(API_WORKERS),
}
