"""Deploy-time setup run by CloudFormation custom resources (not part of the data flow)."""
