"""Who may use what: views and API endpoints declare their roles here, once.

`roles_required` guards a view and records the roles on it; navigation and the
permission-matrix test read the same record, so what is shown, what is
reachable and what is tested cannot drift apart.
"""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.accounts.models import ApiKey, Scope
from apps.accounts.roles import CAPABILITY_ROLES, INTEGRATION, Capability, Role


def roles_required(*roles: str) -> Callable:
    """Decorator for function views: anonymous users go to the login page, other roles get 403."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A partial request must not swap the login page into a table row:
                    # send the whole page there instead.
                    return HttpResponseClientRedirect(redirect_to_login(_page_path(request)).url)
                return redirect_to_login(request.get_full_path())
            if user.role not in allowed:
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorator


def _page_path(request) -> str:
    """Where to come back after signing in: the page the partial request came from."""
    current = getattr(request.htmx, "current_url_abs_path", None)
    return current or request.get_full_path()


def request_role(request) -> str | None:
    """The role the request acts with: the user's, or "integration" for an organization key."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return getattr(user, "role", None)


def user_may_open(user, url_name: str, *args, **kwargs) -> bool:
    """Whether a signed-in user's role admits the view behind a URL name (for navigation links)."""
    try:
        match = resolve(reverse(url_name, args=args, kwargs=kwargs))
    except NoReverseMatch:
        return False
    allowed = getattr(match.func, "allowed_roles", None)
    return allowed is None or getattr(user, "role", None) in allowed


def required_scopes(request, view) -> tuple[str, ...]:
    """The token scopes that admit a request (any one of them): the view's
    ``required_scopes``, else read for GET/HEAD/OPTIONS and write for the rest."""
    declared = getattr(view, "required_scopes", None)
    if declared:
        return tuple(declared)
    return (Scope.READ,) if request.method in SAFE_METHODS else (Scope.WRITE,)


class RolePermission(BasePermission):
    """DRF permission: the view's `allowed_roles` must contain the caller's role, and a
    bearer token must carry a scope the operation needs (a browser session needs none).

    A view that declares no roles admits nobody: new endpoints fail closed.
    """

    message = "Your role does not allow this operation."

    def has_permission(self, request, view) -> bool:
        allowed: Iterable[str] | None = getattr(view, "allowed_roles", None)
        role = request_role(request)
        if not (bool(allowed) and role is not None and role in allowed):
            return False
        token = request.auth if isinstance(request.auth, ApiKey) else None
        if token is None:
            return True
        needed = required_scopes(request, view)
        if not any(token.has_scope(scope) for scope in needed):
            self.message = (
                f"This token lacks the {' or '.join(needed)} scope this operation needs "
                f"(it has: {', '.join(token.scopes) or 'none'})."
            )
            return False
        return True


def api_roles(*roles: str, integration: bool = False) -> frozenset[str]:
    """The role set for an API view; `integration=True` also admits organization API keys."""
    return frozenset(roles) | ({INTEGRATION} if integration else frozenset())


class ReadWriteRoles:
    """For an API view with reads and writes on one URL: `read_roles` for GET (and HEAD,
    OPTIONS), `write_roles` for the rest. RolePermission reads `allowed_roles`."""

    read_roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] = frozenset()

    @property
    def allowed_roles(self) -> frozenset[str]:
        return self.read_roles if self.request.method in SAFE_METHODS else self.write_roles


def capability_table_markdown() -> str:
    """README's roles table, rendered from the one capability table (roles.CAPABILITY_ROLES)."""
    roles = list(Role)
    lines = [
        "| may | " + " | ".join(role.value for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for capability in Capability:
        allowed = CAPABILITY_ROLES[capability]
        marks = " | ".join("✓" if role in allowed else "" for role in roles)
        lines.append(f"| {capability.label} | {marks} |")
    return "\n".join(lines)
