"""Which failures Prefect retries: transient ones only (I/O, a busy GPU), never what the user must fix."""

from __future__ import annotations

from prefect.states import State

from pipeline.common.errors import is_user_error


def retry_transient(task: object, task_run: object, state: State) -> bool:
    """A `retry_condition_fn`: retry unless the failure is a bad input, config or missing file or
    weights (see pipeline.common.errors.is_user_error), which fails the same way every time."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - the failure itself is what we classify
            exc = raised
    return exc is None or not is_user_error(exc)
