"""``ddbload``, the operator CLI: one module per command over the operator library (``ops``).

``main`` assembles the commands; ``options`` holds the shared flags and opens
the pipeline; ``render`` draws tables, JSON and progress; ``errors`` turns
library errors into one sentence and an exit code, at the edge only.
"""
