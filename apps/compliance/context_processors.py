"""Template context for every tenant page: the notification bell (unread count)."""

from django.conf import settings
from django.db import connection

from apps.compliance.selectors import notification_unread_count


def notifications(request) -> dict:
    """``notifications_unread`` for the signed-in person: one indexed COUNT, nothing otherwise."""
    if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "pk", None) is None:
        return {}

    return {"notifications_unread": notification_unread_count(user=user)}
