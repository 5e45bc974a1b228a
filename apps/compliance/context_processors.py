"""Template context for every tenant page: the notification bell (unread count)."""


def notifications(request) -> dict:
    # SEAM (issue 7 owner replaces): unread in-app notifications of request.user.
    return {}
