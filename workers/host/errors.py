"""The one error type of the host agent: a failure with a message a user can act on."""


class HostError(Exception):
    """An expected failure on a host (mount refused, disk full, bad image); `message` says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message
