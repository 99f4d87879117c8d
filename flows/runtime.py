"""Process-wide defaults for running flows from the command line or tests."""

from __future__ import annotations

import logging
import os

#: Our layers' loggers: their records go to Prefect's run logs (PREFECT_LOGGING_EXTRA_LOGGERS).
STAGE_LOGGERS = ("pipeline", "model", "storage")

DEFAULTS = {
    # never phone home; the machines that run this often have no network
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # library loggers of our layers show up in Prefect's run logs
    "PREFECT_LOGGING_EXTRA_LOGGERS": ",".join(STAGE_LOGGERS),
    # stages also run outside flows (plain functions); their logs then simply stay local
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # the temporary local server of a run without PREFECT_API_URL needs more than the default 20 s
    # to come up on a small, busy machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_defaults() -> None:
    """Set our Prefect defaults unless the user set them; call before importing prefect."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)


def route_stage_logs(level: int = logging.INFO) -> None:
    """Let our layers' INFO records through (per video, per epoch): Prefect attaches its API handler to
    the extra loggers but leaves their level unset, so the root's WARNING would drop INFO records
    before they reach a run's logs. A level the user set is kept."""
    for name in STAGE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
