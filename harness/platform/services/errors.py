"""How a service says no, whatever asked it: the web and API layers map these to 401 ... 422."""

from __future__ import annotations


class LoginRequired(Exception):
    """Nobody is logged in, or the credentials given do not authenticate (401 / the login page)."""

    def __init__(self, reason: str = "login required") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    """The principal's role may never do this (403)."""


class NotVisible(Exception):
    """The object does not exist, or the principal may not know that it does (404)."""


class Conflict(Exception):
    """Not possible in the object's present state, e.g. a lifecycle move it does not allow (409)."""


class Invalid(Exception):
    """The request names something wrong (a missing reason, a bad date): 422 with the reason."""


class Unavailable(Exception):
    """Something the platform reads from elsewhere (the lab's job queue) cannot be reached now (503)."""
