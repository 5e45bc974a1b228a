"""Permission-matrix rows for the ICP pages and API."""

from tests.support.access import EVERYONE, Row

EDITORS = frozenset({"admin", "marketing_leader", "marketer", "sales_leader"})
APPROVERS = frozenset({"marketing_leader", "sales_leader"})
MISSING = lambda env: {"pk": 999999}  # noqa: E731 - a table of tiny lambdas reads best inline

ACCESS = {
    "icp:profile": Row(EVERYONE),
    "icp:revision_create": Row(EDITORS),
    "icp:persona_blank": Row(EDITORS),
    "icp:revision_detail": Row(EVERYONE, kwargs=MISSING),
    "icp:revision_approve": Row(APPROVERS, kwargs=MISSING),
    "icp:compare": Row(EVERYONE),
    "icp:insights": Row(EVERYONE),
}
ACCESS |= {
    "api:icp:revision_list": Row(EVERYONE | {"integration"}),
    "api:icp:revision_detail": Row(EVERYONE | {"integration"}, kwargs=MISSING),
    "api:icp:current": Row(EVERYONE | {"integration"}),
}
