"""What the parts of ddbload agree on: the staging line, value rules, configuration, names."""
