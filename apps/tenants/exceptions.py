from apps.accounts.exceptions import DomainError


class OrganizationError(DomainError):
    """A request to create an organization that breaks a rule; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class SignupThrottled(DomainError):
    """Too many organizations requested from one client address (429)."""

    status_code = 429

    def __init__(self, wait_seconds: int) -> None:
        minutes = max(1, round(wait_seconds / 60))
        super().__init__(
            f"Too many organizations were requested from your network; try again in {minutes} "
            "minute(s).",
            field="non_field_errors",
        )
        self.wait_seconds = wait_seconds
