"""How a flow run ends: FAILED when any of its items failed, with the summary riding on the state."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.states import Failed, State

from pipeline.common.summary import RunSummary

T = TypeVar("T")


def finish(summary: RunSummary, artifact_key: str, noun: str = "items") -> RunSummary | State:
    """The return value of a flow: its summary, or a Failed state carrying it when items failed, so
    the UI, automations and `prefect flow-run ls` see the run FAILED (message: the count and where
    the list is); callers get the summary back either way through `run_flow`."""
    if not summary.failed:
        return summary
    total = summary.done + summary.skipped + summary.failed
    return Failed(message=f"{summary.failed} of {total} {noun} failed; listed in artifact {artifact_key!r}",
                  data=summary)


def run_flow(flow_obj: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Call a flow (as a subflow inside a flow run) and return what it returned, also when it ended
    FAILED with its summary (`finish`); an exception that crashed it is raised again."""
    state = flow_obj(*args, **kwargs, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result
