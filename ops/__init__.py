"""The operator library: what an operator does to a pipeline (inspect, reload, status, verify,
backfill), as functions over ``ops.pipeline.Pipeline``. The ``ddbload`` CLI (``cli``) formats
their results; the loader Lambda (``loaders``) never imports this package."""
