"""The running local stack as an operator ``Pipeline`` (``ddbload ... --local``).

``ops`` works on a ``Pipeline`` and never reaches into local mode itself; this
module builds one from the moto server's state and the resources
``ddbload local up`` made, with a client factory pointed at that server.
"""

from __future__ import annotations

from functools import partial

from localmode import aws, resources, server
from ops.pipeline import Lane, OperatorError, Pipeline


def from_local(state_path: str | None = None) -> Pipeline:
    """The local stack: the running moto server and the resources ``ddbload local up`` made."""
    endpoint = server.endpoint(state_path)
    res = resources.load(state_path)
    if res.endpoint != endpoint:
        raise OperatorError(
            "The local stack's resources belong to an older server; run `ddbload local up` again."
        )
    return Pipeline(
        where="local",
        bucket=res.bucket,
        staging_prefix=res.staging_prefix,
        error_prefix=res.error_prefix,
        quarantine_prefix=res.quarantine_prefix,
        config=res.config,
        db_secret=res.db_secret_arn,
        loader_function=resources.LOADER_FUNCTION,
        lanes=tuple(
            Lane(
                lane,
                res.work_queue_url(lane),
                res.lanes.get(lane, {}).get("dead_letter_queue_url"),
            )
            for lane in res.lane_names()
        ),
        region=res.region,
        local=True,
        db_tls=res.db_tls,
        db_ca_bundle=res.db_ca_bundle,
        make_client=partial(aws.client, endpoint=endpoint),
    )
