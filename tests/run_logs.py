"""Reading a flow run's log records back from the Prefect server, as the UI shows them."""

from __future__ import annotations


def run_log_records(flow_run_id) -> list[tuple[str, int, str]]:
    """(logger name, level, message) of every record of the flow run (its tasks' included)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # the API handler sends in batches from a background worker
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
    return [(log.name, log.level, log.message) for log in logs]
