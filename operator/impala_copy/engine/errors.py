"""The engine's errors: a stable code, a readable message, and whether retrying can help.

Messages never contain a secret value. The code becomes `errors[].code` in the run summary and the
operator's condition reason; `exit_code` tells the Job whether a retry is pointless (configuration).
"""

from __future__ import annotations

# Exit codes of `impala-copy engine` (api/pod_contract.py, shared with the operator): the Job's
# podFailurePolicy fails the Job at once on EXIT_CONFIGURATION; a retry may help after EXIT_TRANSIENT.
from impala_copy.api.pod_contract import EXIT_CONFIGURATION as EXIT_CONFIGURATION
from impala_copy.api.pod_contract import EXIT_OK as EXIT_OK
from impala_copy.api.pod_contract import EXIT_TRANSIENT as EXIT_TRANSIENT


class CopyError(Exception):
    """Base of every error the engine reports."""

    code = "CopyFailed"
    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def exit_code(self) -> int:
        return EXIT_TRANSIENT if self.retryable else EXIT_CONFIGURATION


class ConfigurationError(CopyError):
    code = "InvalidConfiguration"
    retryable = False


class SecretMissing(ConfigurationError):
    code = "SecretMissing"


class AuthenticationFailed(CopyError):
    code = "AuthenticationFailed"
    retryable = False


class TLSVerificationFailed(CopyError):
    code = "TLSVerificationFailed"
    retryable = False


class Unreachable(CopyError):
    code = "Unreachable"


class Timeout(CopyError):
    code = "Timeout"


class TableNotFound(CopyError):
    code = "TableNotFound"
    retryable = False


class QueryFailed(CopyError):
    """The server rejected or failed the SQL (syntax, semantics, runtime)."""

    code = "QueryFailed"
    retryable = False


class ServerError(CopyError):
    code = "ServerError"


class SinkError(CopyError):
    code = "SinkWriteFailed"


class SinkAuthenticationFailed(SinkError):
    code = "SinkAuthenticationFailed"
    retryable = False


class ConsistencyCheckFailed(CopyError):
    code = "DataConsistencyCheckFailed"
    retryable = False


class PartitionsIncomplete(CopyError):
    """The commit step of a partitioned copy found indexes without staged output: nothing is published."""

    code = "PartitionsIncomplete"
    retryable = False
