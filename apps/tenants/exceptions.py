from apps.accounts.exceptions import DomainError


class OrganizationError(DomainError):
    """A request to create an organization that breaks a rule; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
