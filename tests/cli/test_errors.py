"""Every failure an operator can meet ends in one sentence on stderr and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from contract import names
from localmode import aws, resources
from tests.cli.conftest import change, put_staging
from tests.cli.deployed import deploy, outputs_of


def assert_one_sentence(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = result.stderr.strip()
    assert text.startswith("ddbload: ")
    assert "\n" not in text, text
    assert text.endswith((".", "?")), text
    for word in words:
        assert word in text, text


def test_no_pipeline_chosen(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN neither --local/--stack nor their environment variables
    monkeypatch.delenv(names.ENV_STACK_NAME, raising=False)
    monkeypatch.delenv(names.ENV_LOCAL, raising=False)
    # WHEN inspecting THEN the operator is told how to choose
    assert_one_sentence(runner.invoke(app, ["inspect"]), "--stack", "--local")


def test_local_stack_not_running(runner: CliRunner, tmp_path, monkeypatch) -> None:
    # GIVEN a state folder with no server recorded
    monkeypatch.setenv("DDBLOAD_STATE_DIR", str(tmp_path))
    # WHEN / THEN
    assert_one_sentence(runner.invoke(app, ["inspect", "--local"]), "ddbload local up")


def test_no_credentials(runner: CliRunner, local_stack, tmp_path, monkeypatch) -> None:
    # GIVEN no credentials anywhere boto3 looks (and the endpoint kept on 127.0.0.1)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    # WHEN using a deployed stack THEN
    assert_one_sentence(runner.invoke(app, ["inspect", "--stack", "prod"]), "credentials")


@pytest.mark.parametrize(
    "command", [["inspect"], ["status"], ["reload", "--prefix", "x/", "-y"], ["verify"]]
)
def test_stack_not_found(runner: CliRunner, local_stack, monkeypatch, command) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    result = runner.invoke(app, [*command, "--stack", "nope-stack"])
    assert_one_sentence(result, "'nope-stack'", "not found")


def test_stack_without_ddbload_outputs(runner: CliRunner, local_stack, monkeypatch) -> None:
    # GIVEN a stack that is not a ddbload stack
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    deploy(local_stack, "other", {"Something": "else"})
    # WHEN / THEN the missing outputs are named
    result = runner.invoke(app, ["inspect", "--stack", "other"])
    assert_one_sentence(result, names.OUTPUT_BUCKET)


@pytest.mark.parametrize(
    "config, words",
    [
        ("{not json", ["not valid JSON"]),
        ('{"schedule_minutes": 0}', ["configuration is invalid", "schedule_minutes"]),
    ],
)
def test_config_invalid(runner: CliRunner, local_stack, monkeypatch, config, words) -> None:
    # GIVEN a stack whose config output is broken
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    deploy(local_stack, "broken", outputs_of(local_stack, **{names.OUTPUT_CONFIG: config}))
    # WHEN / THEN
    assert_one_sentence(runner.invoke(app, ["inspect", "--stack", "broken"]), *words)


def test_prefix_with_nothing_under_it(runner: CliRunner, local_stack) -> None:
    put_staging(local_stack, "table=customers/2025/06/01/12/a.gz", [change("a", 1)])
    result = runner.invoke(app, ["inspect", "--local", "table=customers/1999/"])
    assert_one_sentence(result, "Nothing under", "table=customers/1999/")


def test_object_not_a_staging_file(runner: CliRunner, local_stack) -> None:
    # GIVEN an object that is JSON but not a staging line, and one that is not there
    key = f"{local_stack.staging_prefix}/table=customers/notes.json"
    aws.client("s3", local_stack.endpoint).put_object(
        Bucket=local_stack.bucket, Key=key, Body=b'{"hello": "world"}\n'
    )
    assert_one_sentence(
        runner.invoke(app, ["inspect", "--local", "--show", key]),
        "not a staging file",
        "missing fields",
    )
    assert_one_sentence(
        runner.invoke(app, ["inspect", "--local", "--show", key + ".gone"]), "does not exist"
    )


def test_database_unreachable(runner: CliRunner, local_stack, moto_state, database) -> None:
    # GIVEN the pipeline's secret points at a port where no database listens
    resources.create(
        local_stack.endpoint,
        local_stack.config,
        database=database,
        mariadb_url="mysql://root@127.0.0.1:9/",
        state_path=moto_state,
    )
    put_staging(local_stack, "table=customers/2025/06/01/12/a.gz", [change("a", 1)])
    # WHEN reading load status, health, or reloading THEN
    for command in (["inspect"], ["status"], ["reload", "--prefix", "table=customers/", "-y"]):
        assert_one_sentence(runner.invoke(app, [*command, "--local"]), "unreachable")


@pytest.mark.parametrize("command", [["demo"], ["local", "up"]])
def test_no_cdk_json_in_the_working_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch, command
) -> None:
    # GIVEN a folder that is not the project's (no cdk.json), and a broken one
    monkeypatch.chdir(tmp_path)
    # WHEN / THEN the commands that read cdk.json say so in one sentence
    assert_one_sentence(runner.invoke(app, command), "No config file cdk.json", "--config")
    (tmp_path / "broken.json").write_text("{")
    assert_one_sentence(runner.invoke(app, [*command, "--config", "broken.json"]), "not valid JSON")
