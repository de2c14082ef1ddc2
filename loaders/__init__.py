"""The bulk loader: staging objects in S3 -> LOAD DATA -> version-guarded merge in MariaDB; and the ddbload CLI."""
