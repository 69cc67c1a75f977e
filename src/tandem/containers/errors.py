"""The containers area's exceptions: every one is a sentence an operator can act on."""

from tandem.errors import TandemError


class ContainerError(TandemError):
    """A container operation could not be done; the message says why and what to do."""


class InvalidRequest(ContainerError):
    """Bad input (an ID, an address, a sample, an archive): refused before anything changed."""
