"""flows layer of the VideoLights pipeline: Prefect flows, fan-out, the `videolights` CLI."""

from flows.runtime import route_stage_logs

# every process that runs our flows (CLI, a worker's flow-run process, a container) imports this package
route_stage_logs()
