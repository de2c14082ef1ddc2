"""tools/deploy.py, the steps `make deploy` / `make destroy` run around the CDK CLI,
against moto (no AWS account) and local files (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tools import deploy

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_ca_bundle_is_saved_when_missing_and_left_alone_when_present(tmp_path: Path) -> None:
    source = tmp_path / "global-bundle.pem"
    source.write_bytes(PEM)
    target = tmp_path / "rds-ca-bundle.pem"
    assert "saved" in deploy.fetch_ca_bundle(target, source.as_uri())
    assert target.read_bytes() == PEM
    assert "already there" in deploy.fetch_ca_bundle(target, "file:///nonexistent")


def test_ca_bundle_download_failure_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(deploy.Stop) as stop:
        deploy.fetch_ca_bundle(tmp_path / "x.pem", (tmp_path / "missing.pem").as_uri())
    message = str(stop.value)
    assert message.startswith("could not download the RDS CA bundle")
    assert "save it as x.pem" in message and "\n" not in message
    assert not (tmp_path / "x.pem").exists()


def test_a_download_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "page.html"
    source.write_text("<html>captive portal</html>")
    with pytest.raises(deploy.Stop, match="PEM"):
        deploy.fetch_ca_bundle(tmp_path / "x.pem", source.as_uri())


@pytest.fixture
def session(aws_env) -> boto3.Session:
    with mock_aws():
        yield boto3.Session(region_name="eu-central-1")


def test_preflight_stops_on_an_unbootstrapped_account(session: boto3.Session) -> None:
    with pytest.raises(deploy.Stop) as stop:
        deploy.preflight(session, None)
    assert "not bootstrapped" in str(stop.value)
    assert "npx cdk bootstrap aws://123456789012/eu-central-1" in str(stop.value)


def test_preflight_passes_a_bootstrapped_account(session: boto3.Session) -> None:
    session.client("ssm").put_parameter(Name=deploy.BOOTSTRAP_PARAMETER, Value="28", Type="String")
    # Only a warning may remain: the Region's VPC count against its default quota.
    assert all("VPC" in warning for warning in deploy.preflight(session, None))


def test_preflight_stops_on_an_old_bootstrap(session: boto3.Session) -> None:
    session.client("ssm").put_parameter(Name=deploy.BOOTSTRAP_PARAMETER, Value="3", Type="String")
    with pytest.raises(deploy.Stop, match="version 3"):
        deploy.preflight(session, None)


def test_a_reservation_must_leave_100_unreserved() -> None:
    # New accounts often start with a quota of 10: no reservation fits there.
    for limit, reserved in ((10, 1), (100, 1), (1000, 901)):
        with pytest.raises(deploy.Stop, match="loader_reserved_concurrency"):
            deploy.check_reservation(limit, reserved)
    deploy.check_reservation(1000, 900)


def test_preflight_needs_a_region(aws_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(deploy.Stop, match="no AWS Region"):
        deploy.preflight(boto3.Session(), None)


def test_kept_lists_only_what_the_stack_retains(session: boto3.Session) -> None:
    template = {
        "Resources": {
            "Data": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            "Work": {"Type": "AWS::SQS::Queue"},
        }
    }
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName="ddbload-t", TemplateBody=json.dumps(template))
    lines = deploy.kept(session, "ddbload-t")
    assert len(lines) == 1 and lines[0].startswith("AWS::S3::Bucket ")
    with pytest.raises(deploy.Stop, match="no stack named nope"):
        deploy.kept(session, "nope")
