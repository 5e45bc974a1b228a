"""Permission-matrix rows of the leads app (see tests/test_permission_matrix.py)."""

from apps.accounts.roles import Capability, roles_for
from tests.support.access import ADMIN_ONLY, EVERYONE, INTEGRATION, PUBLIC, Row

# From the one capability table (apps/accounts/roles.py), as README's roles table.
IMPORT = roles_for(Capability.IMPORT_LEADS)
INGEST = IMPORT | {INTEGRATION}
ROUTING = roles_for(Capability.ROUTE_LEADS)
READ_API = EVERYONE | {INTEGRATION}

ACCESS = {
    "leads:lead_list": Row(EVERYONE),
    "leads:lead_export": Row(EVERYONE),
    "leads:lead_detail": Row(EVERYONE, kwargs=lambda env: {"pk": 999999}),
    "leads:lead_reassign": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "leads:lead_route": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "leads:routing_rule_list": Row(ROUTING),
    "leads:routing_rule_create": Row(ROUTING),
    "leads:routing_rule_edit": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "leads:routing_rule_move": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "leads:routing_rule_delete": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "leads:import_upload": Row(IMPORT),
    "leads:import_detail": Row(IMPORT, kwargs=lambda env: {"pk": 999999}),
    "leads:import_errors": Row(IMPORT, kwargs=lambda env: {"pk": 999999}),
    "leads:webhook_settings": Row(ADMIN_ONLY),
    "api:leads:lead_list": Row(READ_API),
    "api:leads:lead_upsert": Row(INGEST),
    "api:leads:lead_detail": Row(READ_API, kwargs=lambda env: {"pk": 999999}),
    "api:leads:lead_reassign": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "api:leads:lead_route": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    "api:leads:activity_ingest": Row(INGEST),
    "api:leads:routing_rule_list": Row(ROUTING),
    "api:leads:routing_rule_detail": Row(ROUTING, kwargs=lambda env: {"pk": 999999}),
    # POST-only: the allowed roles get 405 on GET, everyone else 403.
    "api:leads:routing_rule_reorder": Row(ROUTING),
    # The CRM proves itself with the URL token or the HMAC signature, not a session or key.
    "api:leads:webhook_receive": Row(PUBLIC, kwargs=lambda env: {"source": "hubspot"}),
    "api:leads:webhook_receive_token": Row(
        PUBLIC, kwargs=lambda env: {"source": "hubspot", "token": "not-the-token"}
    ),
}
