"""The exceptions tandem raises on purpose.

One root, so the command line can print any of them as a plain sentence without a
traceback. "The caller misused a core" (UsageError) is kept apart from "the outside world
sent something illegal" (ProtocolError): the first is a bug in tandem, the second is
expected input that is dropped and counted.
"""


class TandemError(Exception):
    """Something went wrong that an operator can read and act on."""


class UsageError(TandemError):
    """A core or helper was called in a way its contract forbids (a bug in the caller)."""


class ProtocolError(TandemError):
    """A peer or a client sent something illegal; it is dropped, never fatal."""


class ConfigError(TandemError):
    """The cluster configuration is unreadable or invalid; nothing was changed."""


class LabError(TandemError):
    """The lab could not do what was asked; the message says what to do next."""
