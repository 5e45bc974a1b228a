"""Domain errors: services raise these; the API handler and the htmx views turn them into 4xx."""


class DomainError(Exception):
    """A request that breaks a business rule. `field` names the input at fault ("non_field_errors" if none)."""

    status_code = 400

    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


class NotAllowed(DomainError):
    """The actor's role may not do this (403)."""

    status_code = 403


class Conflict(DomainError):
    """The object's state does not allow the change (409), e.g. a signed SLA version."""

    status_code = 409
