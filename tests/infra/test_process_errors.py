"""How a Temporal failure reaches the API: a process that does not answer in time is a 503 to
retry, not an internal error; a missing one is a 404; anything else is not swallowed."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from infra.temporal.processes import _from_rpc


@pytest.mark.parametrize("status", [RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED])
def test_a_process_that_does_not_answer_in_time_is_a_503_to_retry(status):
    error = _from_rpc(RPCError("query timed out", status, b""))
    assert (error.status, error.code) == (503, "process_unavailable")


def test_a_missing_process_is_a_404_and_other_failures_are_raised():
    assert _from_rpc(RPCError("gone", RPCStatusCode.NOT_FOUND, b"")).status == 404
    with pytest.raises(RPCError):
        _from_rpc(RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""))
