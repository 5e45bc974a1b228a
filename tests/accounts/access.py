"""Rows of the permission matrix for this app: URL name -> who may use it.

`PUBLIC` = no sign-in needed; otherwise the set of roles (and "integration" for
organization API keys on API endpoints). `kwargs` builds URL arguments.
"""

from tests.support.access import ADMIN_ONLY, EVERYONE, PUBLIC, Row

ACCESS = {
    "home": Row(EVERYONE),
    "accounts:login": Row(PUBLIC),
    "accounts:logout": Row(PUBLIC),
    "accounts:welcome": Row(PUBLIC),
    "accounts:unlock": Row(PUBLIC, kwargs=lambda env: {"token": "unknown"}),
    "accounts:password_reset": Row(PUBLIC),
    "accounts:password_reset_done": Row(PUBLIC),
    "accounts:password_reset_confirm": Row(
        PUBLIC, kwargs=lambda env: {"uidb64": "x", "token": "y"}
    ),
    "accounts:password_reset_complete": Row(PUBLIC),
    "accounts:invitation_accept": Row(PUBLIC, kwargs=lambda env: {"token": "unknown"}),
    "accounts:profile": Row(EVERYONE),
    "accounts:login_two_factor": Row(PUBLIC),
    "accounts:token_revoke": Row(EVERYONE, kwargs=lambda env: {"pk": 999999}),
    "accounts:two_factor_setup": Row(EVERYONE),
    "accounts:two_factor_disable": Row(EVERYONE),
    "accounts:two_factor_policy": Row(ADMIN_ONLY),
    "accounts:user_list": Row(ADMIN_ONLY),
    "accounts:user_edit": Row(ADMIN_ONLY, kwargs=lambda env: {"pk": env.user.pk}),
    "accounts:api_key_list": Row(ADMIN_ONLY),
    "accounts:api_key_revoke": Row(ADMIN_ONLY, kwargs=lambda env: {"pk": 999999}),
    "accounts:audit_log": Row(ADMIN_ONLY),
    "api_schema": Row(PUBLIC),
    "api_docs": Row(PUBLIC),
    "api:accounts:me": Row(EVERYONE),
    "api:accounts:user_list": Row(ADMIN_ONLY),
    "api:accounts:user_detail": Row(ADMIN_ONLY, kwargs=lambda env: {"pk": env.user.pk}),
    "api:accounts:user_deactivate": Row(ADMIN_ONLY, kwargs=lambda env: {"pk": 999999}),
    "api:accounts:token_exchange": Row(PUBLIC),
    "api:accounts:api_key_list": Row(ADMIN_ONLY),
    "api:accounts:api_key_revoke": Row(ADMIN_ONLY, kwargs=lambda env: {"pk": 999999}),
}
