"""What can go wrong, in domain terms. The web layer turns each into one problem+json status."""


class GatewayError(Exception):
    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(GatewayError):
    title = "Bad Request"


class NotAuthenticated(GatewayError):
    title = "Unauthorized"


class Forbidden(GatewayError):
    title = "Forbidden"


class NotFound(GatewayError):
    title = "Not Found"


class Conflict(GatewayError):
    title = "Conflict"


class PreconditionFailed(GatewayError):
    title = "Precondition Failed"


class Unavailable(GatewayError):
    """Something the service depends on (the database) cannot be reached now; it may be back soon."""

    title = "Service Unavailable"
