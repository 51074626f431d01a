"""The package's exception types.

Every failure a user can cause or fix (a bad file, a missing dataset, a bad
hyper-parameter) raises a subclass of :class:`DashboardError`, whose message is
written to be read by that user. Callers catch ``DashboardError`` and show the
message; anything else is a bug.
"""

from __future__ import annotations


class DashboardError(Exception):
    """Base class of every error the user should see as a message."""


class DataError(DashboardError, ValueError):
    """A dataset could not be found, downloaded, read or trusted."""


class ParameterError(DashboardError, ValueError):
    """A training parameter is invalid.

    Parameters
    ----------
    field : str
        The name of the offending field, as the form and CLI call it.
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
