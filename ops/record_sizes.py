"""How many bytes one change becomes on its way, for ``ops.estimate``'s bills and limits.

A change of an item of ``item_bytes`` (DynamoDB's own size: names plus values) is a
Kinesis record of typed JSON with one or two images, then one staging line of plain
JSON, then gzip in S3. The factors are fitted to records and lines the real transform
builds; ``tests/ops/test_estimate.py`` rebuilds them and keeps the fit within 10%.
"""

from __future__ import annotations

# Size of one DynamoDB Kinesis-destination record: the change's metadata and keys
# (eventID, tableName, timestamps, SizeBytes, ...) plus each image in typed DynamoDB
# JSON ({"name":{"S":"value"}}, numbers as digits where DynamoDB stores about half a
# byte per digit), about a quarter larger than DynamoDB's own item size for items of
# ordinary attributes (50 bytes or so each, a quarter of them numbers). Fitted to
# records built in the documented format; tests/ops/test_estimate.py rebuilds them.
KINESIS_RECORD_OVERHEAD_BYTES = 420
TYPED_JSON_FACTOR = 1.25
# MODIFY records carry the new and the old image, INSERT and REMOVE one: 2 is the
# update-heavy case, and the default.
IMAGES_PER_CHANGE = 2.0
# One staging line (contract.staging) per change: the new image as plain JSON text
# inside the line's JSON (so its quotes are escaped) plus key, version, sequence
# number, event id and table; fitted to lines the real transform writes, and
# checked by the same test.
STAGING_LINE_OVERHEAD_BYTES = 350
PLAIN_JSON_FACTOR = 1.2
# gzip shrinks staging lines to about this fraction (bench: 100,000 changes of
# ~600-byte lines were 13 MiB of gzip, the loader suite's memory note).
GZIP_RATIO = 0.22


def kinesis_record_bytes(item_bytes: float, images_per_change: float = IMAGES_PER_CHANGE) -> float:
    """Size of one DynamoDB Kinesis-destination record for an item of ``item_bytes``."""
    return KINESIS_RECORD_OVERHEAD_BYTES + images_per_change * item_bytes * TYPED_JSON_FACTOR


def staging_line_bytes(item_bytes: float) -> float:
    """Size of the staging line the transform writes for an item of ``item_bytes``."""
    return STAGING_LINE_OVERHEAD_BYTES + item_bytes * PLAIN_JSON_FACTOR
