"""``ddbload estimate`` through the CLI runner: one JSON document, and a sentence for bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app


def test_json_output_is_one_document_with_both_designs(runner: CliRunner) -> None:
    # WHEN the estimate of 10k changes/s of 1 KB items is asked for as JSON
    result = runner.invoke(
        app, ["estimate", "--changes-per-second", "10000", "--item-bytes", "1024", "--json"]
    )
    # THEN stdout is exactly one JSON document with the promised shape
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for design in ("this_design", "seed_design"):
        # each component and the total are rounded to cents on their own
        parts = doc[design]["components"].values()
        assert abs(doc[design]["monthly_usd"] - sum(parts)) <= 0.005 * (len(parts) + 1)
    assert doc["this_design"]["monthly_usd"] > doc["seed_design"]["monthly_usd"]
    assert {"settings", "freshness_seconds", "limits"} <= set(doc)


def test_provisioned_capacity_is_priced_as_asked(runner: CliRunner) -> None:
    args = ["estimate", "--changes-per-second", "10000", "--item-bytes", "1024", "--json"]
    on_demand = json.loads(runner.invoke(app, args).stdout)
    provisioned = json.loads(
        runner.invoke(app, [*args, "--stream-mode", "provisioned", "--shards", "45"]).stdout
    )
    assert provisioned["this_design"]["monthly_usd"] < on_demand["this_design"]["monthly_usd"]


def test_a_bad_rate_is_one_sentence_and_a_non_zero_exit(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["estimate", "--changes-per-second", "0", "--item-bytes", "1024", "--json"]
    )
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "changes per second must be a positive number" in result.stderr.lower()
    assert "Traceback" not in result.output
