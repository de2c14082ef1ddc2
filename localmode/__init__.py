"""Local mode: moto_server for AWS APIs plus local drivers for the managed glue moto does not run."""
