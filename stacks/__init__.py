"""CDK constructs and stacks: wiring only; no runtime code is imported here."""
