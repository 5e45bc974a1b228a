"""Where an organization is served: its host name and absolute URLs on it (from the settings)."""

from django.conf import settings


def organization_domain(subdomain: str) -> str:
    """The host name an organization is served on: <subdomain>.<BASE_DOMAIN>."""
    return f"{subdomain}.{settings.BASE_DOMAIN}"


def organization_url(organization, path: str = "/") -> str:
    """Absolute URL of a path on the organization's host, with the dev port when there is one."""
    host = organization_domain(organization.subdomain)
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}{path}"
