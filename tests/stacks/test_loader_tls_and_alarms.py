"""The loader's TLS settings (with and without a CA bundle) and the alarms on its EMF metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from contract import names as env
from loaders import handler
from stacks import bundling, defaults
from tests.stacks.conftest import Synthesized, cdk_context, synthesize

# Not a real CA: the stack only checks that the file holds a PEM certificate.
FAKE_BUNDLE = b"-----BEGIN CERTIFICATE-----\nMIIBfakefakefake\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def with_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The default stack synthesized with an rds-ca-bundle.pem at the repository root."""
    root = tmp_path_factory.mktemp("bundle-root")
    pem = root / defaults.RDS_CA_BUNDLE_FILE
    pem.write_bytes(FAKE_BUNDLE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bundling, "RDS_CA_BUNDLE", pem)
        yield synthesize(cdk_context(), tmp_path_factory.mktemp("cdk-with-bundle"))


@pytest.fixture(scope="module")
def without_bundle(default_pipeline: Synthesized) -> Synthesized:
    if bundling.rds_ca_bundle() is not None:
        pytest.skip(f"{bundling.RDS_CA_BUNDLE} exists, so the default stack verifies TLS")
    return default_pipeline


def loader_function(pipeline: Synthesized) -> tuple[str, dict]:
    logical = pipeline.logical_id(pipeline.stack.loader.function)
    return logical, pipeline.resources("AWS::Lambda::Function")[logical]


def loader_env(pipeline: Synthesized) -> dict:
    return loader_function(pipeline)[1]["Properties"]["Environment"]["Variables"]


def tls_warnings(pipeline: Synthesized) -> list:
    return Annotations.from_stack(pipeline.stack).find_warning(
        "*", Match.string_like_regexp("global-bundle.pem")
    )


def test_without_a_bundle_the_loader_encrypts_and_synth_warns(without_bundle: Synthesized):
    variables = loader_env(without_bundle)
    assert variables[env.ENV_DB_TLS] == "required"
    assert env.ENV_DB_CA_BUNDLE not in variables
    [warning] = tls_warnings(without_bundle)
    message = str(warning.entry.data)
    assert defaults.RDS_CA_BUNDLE_FILE in message and "docs/DEPLOY.md" in message
    assert warning.id.endswith(without_bundle.stack.loader.node.path)


def test_with_a_bundle_the_loader_verifies_with_the_bundled_file(
    with_bundle: Synthesized, without_bundle: Synthesized
):
    # GIVEN rds-ca-bundle.pem at the repository root when synthesizing
    variables = loader_env(with_bundle)
    # THEN the loader verifies, with the file at its bundle root, and synth does not warn
    assert variables[env.ENV_DB_TLS] == "verify"
    assert variables[env.ENV_DB_CA_BUNDLE] == f"/var/task/{defaults.RDS_CA_BUNDLE_FILE}"
    assert tls_warnings(with_bundle) == []
    logical, resource = loader_function(with_bundle)
    asset = with_bundle.outdir / resource["Metadata"]["aws:asset:path"]
    assert (asset / defaults.RDS_CA_BUNDLE_FILE).read_bytes() == FAKE_BUNDLE
    assert (asset / "loaders" / "handler.py").is_file()
    # and the bundle is part of the asset's identity (a new CA bundle redeploys the code)
    _, plain = loader_function(without_bundle)
    assert resource["Metadata"]["aws:asset:path"] != plain["Metadata"]["aws:asset:path"]
    assert with_bundle.violations == []


def test_a_file_that_is_not_a_pem_bundle_stops_synth(tmp_path: Path):
    bad = tmp_path / defaults.RDS_CA_BUNDLE_FILE
    bad.write_text("<html>not found</html>")
    with pytest.raises(ValueError, match="holds no PEM certificate"):
        bundling.rds_ca_bundle(bad)
    assert bundling.rds_ca_bundle(tmp_path / "absent.pem") is None


def alarms_on(pipeline: Synthesized, metric_name: str) -> list[dict]:
    return [
        a["Properties"]
        for a in pipeline.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric_name
    ]


@pytest.mark.parametrize(
    "metric_name",
    [
        handler.METRIC_FILES_FAILED,
        handler.METRIC_ROWS_QUARANTINED,
        handler.METRIC_FILES_QUARANTINED,
    ],
)
def test_alarms_on_the_metrics_the_handler_emits(default_pipeline: Synthesized, metric_name):
    # GIVEN the names the loader handler writes in its EMF document
    loader_id, _ = loader_function(default_pipeline)
    topic_id, _ = default_pipeline.only("AWS::SNS::Topic")
    # WHEN reading the alarm on that metric
    [alarm] = alarms_on(default_pipeline, metric_name)
    # THEN it watches the handler's namespace and Function dimension, fires on any count
    assert alarm["Namespace"] == loader_env(default_pipeline)[env.ENV_METRICS_NAMESPACE]
    assert alarm["Namespace"] == handler.DEFAULT_METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": handler.METRIC_DIMENSION, "Value": {"Ref": loader_id}}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_loader_errors_alarm_is_kept(default_pipeline: Synthesized):
    # A scheduled run that cannot start raises: Lambda's Errors metric of the loader counts it.
    loader_id, _ = loader_function(default_pipeline)
    errors = [
        a
        for a in alarms_on(default_pipeline, "Errors")
        if a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": loader_id}}]
    ]
    assert len(errors) == 1 and errors[0]["Threshold"] == 1
    assert default_pipeline.stack.monitoring.alarms.keys() >= {
        "LoaderErrors", "LoaderFilesFailed", "LoaderRowsQuarantined",
    }  # fmt: skip
    # one lag alarm per lane with a work queue (tests/stacks/test_lanes.py)
    assert any(a.startswith("LoaderLag") for a in default_pipeline.stack.monitoring.alarms)
