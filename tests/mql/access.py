"""Permission-matrix rows for the MQL/PQL definition pages and API."""

from tests.support.access import EVERYONE, Row

DRAFTERS = frozenset({"admin", "marketing_leader", "marketer"})
PUBLISHERS = frozenset({"admin", "marketing_leader"})
COMMENTERS = frozenset({"admin", "executive", "marketing_leader", "marketer", "sales_leader"})
BACKTESTERS = COMMENTERS
MISSING = lambda env: {"pk": 999999}  # noqa: E731 - a table of tiny lambdas reads best inline

ACCESS = {
    "mql:definition_list": Row(EVERYONE),
    "mql:definition_create": Row(DRAFTERS),
    "mql:definition_detail": Row(EVERYONE, kwargs=MISSING),
    "mql:definition_edit": Row(DRAFTERS, kwargs=MISSING),
    "mql:definition_builder": Row(DRAFTERS, kwargs=MISSING),
    "mql:definition_publish": Row(PUBLISHERS, kwargs=MISSING),
    "mql:definition_comment": Row(COMMENTERS, kwargs=MISSING),
    "mql:backtest_start": Row(BACKTESTERS, kwargs=MISSING),
    "mql:backtest_detail": Row(BACKTESTERS, kwargs=MISSING),
}
ACCESS |= {
    "api:mql:definition_list": Row(EVERYONE | {"integration"}),
    "api:mql:definition_detail": Row(EVERYONE | {"integration"}, kwargs=MISSING),
    "api:mql:definition_publish": Row(PUBLISHERS, kwargs=MISSING),
    "api:mql:lead_evaluate": Row(
        EVERYONE | {"integration"}, kwargs=lambda env: {"lead_id": 999999}
    ),
}
