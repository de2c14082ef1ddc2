"""Firehose transform Lambda: DynamoDB Kinesis-destination records -> staging lines."""
