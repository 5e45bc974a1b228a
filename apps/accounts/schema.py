"""OpenAPI description of the bearer-token authentication (imported by apps/accounts/apps.py)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiKeyAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (acts as you, with your role) or an organization API key "
            "(acts as an integration): `Authorization: Bearer hk_…`.",
        }
