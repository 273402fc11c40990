"""Typed failures. Services raise them; the API maps them centrally to 400/404/409, the admin and
the wizards show their message as a form error, and a job stores it as its error."""


class NimboError(Exception):
    """An expected failure a user can act on. `field` names the input at fault, if any."""

    status = 400
    code = "invalid"

    def __init__(self, message, *, field=None, code=None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self):
        return self.message


class InvalidInput(NimboError):
    status = 400
    code = "invalid"


class NotFound(NimboError):
    status = 404
    code = "not_found"


class Conflict(NimboError):
    """The request is valid but clashes with the current state (in use, duplicate, overlap)."""

    status = 409
    code = "conflict"


class InUse(Conflict):
    code = "in_use"


class JobFailed(NimboError):
    """Raised inside a job for a failure the user should read (host unreachable, bad image...)."""

    code = "job_failed"
