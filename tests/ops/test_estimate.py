"""ops.estimate: the monthly cost of a load, its settings, database, freshness and break points."""

from __future__ import annotations

import base64
import json
import math
import random
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contract.config import DEFAULTS
from ops import estimate as est
from ops import estimate_report as report
from ops import measured_rates as measured
from ops import record_sizes
from ops.estimate import estimate, load_prices
from ops.estimate_inputs import EstimateError
from ops.estimate_report import render_text
from ops.measured_rates import load_rates

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "transforms" / "events"


# The figures below are about the estimate's arithmetic, so they use the named fallback
# rates: a `make bench` on a busy machine must not change what these tests expect. The
# tests that read the repository's own results say so by name ("repository", "docs").
FALLBACK_RATES = load_rates(Path("/nonexistent/bench/results.json"))


@pytest.fixture(autouse=True)
def _fixed_rates(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "repository" not in request.node.name and "docs" not in request.node.name:
        monkeypatch.setattr(est, "load_rates", lambda path=None: FALLBACK_RATES)


def total_of(design: dict[str, Any]) -> float:
    return sum(design["components"].values())


# --- the figures -----------------------------------------------------------------


def test_ten_thousand_changes_of_one_kb_cost_what_the_issue_says_roughly():
    # GIVEN the load of the issue: 10,000 changes/s of 1 KB items, default settings
    result = estimate(10_000, 1024)
    # THEN this design costs in the low tens of thousands a month, the seed design
    # under a couple of thousand, and the metered services make the difference
    this, seed = result["this_design"]["monthly_usd"], result["seed_design"]["monthly_usd"]
    assert 10_000 < this < 20_000, this
    assert 500 < seed < 1_500, seed
    assert this / seed > 10
    metered = ("dynamodb_change_data_capture", "kinesis_ingest", "firehose_ingest")
    assert sum(result["this_design"]["components"][n] for n in metered) > this / 2


def test_json_has_the_documented_shape():
    result = estimate(1_000, 800, 3)
    # One JSON document: it must survive a round trip unchanged.
    assert json.loads(json.dumps(result)) == result
    for key in ("this_design", "seed_design"):
        design = result[key]
        assert isinstance(design["monthly_usd"], float)
        assert design["components"] and all(
            isinstance(v, float) for v in design["components"].values()
        )
        assert design["monthly_usd"] == pytest.approx(total_of(design), abs=0.05)
    settings = result["settings"]
    for name in ("kinesis_stream_mode", "kinesis_shards", "firehose_buffer_seconds",
                 "firehose_buffer_mb", "schedule_minutes"):  # fmt: skip
        assert name in settings
    assert isinstance(result["freshness_seconds"], float)
    assert set(result["database"]) == {"this_design", "seed_design"}
    assert set(result["limits"]) == {
        "kinesis_on_demand_start",
        "kinesis_shards",
        "firehose_active_partitions",
        "per_lane_ceiling",
        "lambda_15_minutes",
        "table_write_quota",
    }
    for limit in result["limits"].values():
        assert isinstance(limit["crossed"], bool)
        assert limit["what"].endswith((".", ")"))
        assert limit["source"]


def test_metered_costs_grow_with_the_load():
    small, large = estimate(1_000, 1024), estimate(10_000, 1024)
    for name in ("dynamodb_change_data_capture", "kinesis_ingest", "firehose_ingest"):
        assert large["this_design"]["components"][name] == pytest.approx(
            10 * small["this_design"]["components"][name], rel=1e-3
        )
    # The stream's hourly charge does not depend on the load.
    assert (
        large["this_design"]["components"]["kinesis_stream_hours"]
        == small["this_design"]["components"]["kinesis_stream_hours"]
    )


def test_firehose_bills_every_record_as_at_least_5_kb():
    # GIVEN two item sizes whose Kinesis records both fall under 5 KB
    small_item, larger_item = 100, 1000
    assert record_sizes.kinesis_record_bytes(larger_item) < 5 * 1024
    small, larger = estimate(1_000, small_item), estimate(1_000, larger_item)
    # THEN Firehose ingest costs the same for both: each record is billed as 5 KB
    assert (
        small["this_design"]["components"]["firehose_ingest"]
        == larger["this_design"]["components"]["firehose_ingest"]
    )
    # and a record over 5 KB is billed as 10 KB: twice as much
    big = estimate(1_000, 3000)
    assert 5 * 1024 < record_sizes.kinesis_record_bytes(3000) <= 10 * 1024
    assert big["this_design"]["components"]["firehose_ingest"] == pytest.approx(
        2 * small["this_design"]["components"]["firehose_ingest"], rel=1e-3
    )


def test_change_data_capture_units_count_started_kilobytes():
    one = estimate(1_000, 1024)["this_design"]["components"]["dynamodb_change_data_capture"]
    two = estimate(1_000, 1025)["this_design"]["components"]["dynamodb_change_data_capture"]
    assert two == pytest.approx(2 * one)


def test_provisioned_mode_prices_shards_and_put_units():
    result = estimate(10_000, 1024, stream_mode="provisioned", shards=50)
    components = result["this_design"]["components"]
    assert "kinesis_ingest" not in components and "kinesis_retrieval" not in components
    shard_hour = load_prices()["prices"]["kinesis_shard_hour"]["usd"]
    assert components["kinesis_shard_hours"] == pytest.approx(50 * 730 * shard_hour)
    assert components["kinesis_put_payload_units"] > 0
    # Not on-demand, so the on-demand starting capacity is no break point here.
    assert result["limits"]["kinesis_on_demand_start"]["crossed"] is False


def test_recommended_shards_carry_the_load_with_headroom():
    result = estimate(10_000, 1024)
    settings = result["settings"]
    assert settings["kinesis_stream_mode"] == "provisioned"
    write_mb = result["sizes"]["kinesis_write_mb_per_second"]
    # A shard takes 1 MB/s in; half again as headroom.
    assert settings["kinesis_shards"] == math.ceil(write_mb * est.SHARD_HEADROOM)
    # The settings' own price is this design priced with them, and it is cheaper.
    assert settings["monthly_usd"] < result["this_design"]["monthly_usd"]
    assert len(settings["reasons"]) == 3
    assert result["freshness"]["keeps_up"] is True


def test_small_records_need_shards_for_their_count_not_their_bytes():
    # 5,000 tiny changes/s: 5 shards by records, fewer by bytes
    result = estimate(5_000, 10, stream_mode="provisioned")
    assert result["inputs"]["kinesis_shards"] == math.ceil(5 * est.SHARD_HEADROOM)


def test_freshness_is_both_buffers_plus_schedule_plus_load():
    result = estimate(50, 1024, schedule_minutes=10, firehose_buffer_seconds=120)
    f = result["freshness"]
    # A slow table never fills 64 MB: Firehose flushes on its interval.
    assert f["firehose_buffer_seconds"] == 120
    assert f["dynamic_partitioning_factor"] == 1.5
    assert f["schedule_seconds"] == 600
    # The transform's 1 MB buffer fills in 1 MB / (50 changes/s x the record size).
    record = record_sizes.kinesis_record_bytes(1024)
    assert f["processor_buffer_seconds"] == pytest.approx(1_000_000 / (50 * record), abs=0.1)
    assert result["freshness_seconds"] == pytest.approx(
        f["processor_buffer_seconds"] + 120 * 1.5 + 600 + f["load_seconds"], abs=0.2
    )


def test_a_trickle_waits_the_whole_transform_buffer_interval():
    # One small change a second never fills the transform's 1 MB buffer: it waits the
    # interval, as contract.config.freshness_floor counts it
    f = estimate(1, 100)["freshness"]
    assert f["processor_buffer_seconds"] == DEFAULTS["processor_buffer_seconds"]


def test_a_busy_table_flushes_by_size_before_its_interval():
    f = estimate(20_000, 1024)["freshness"]
    assert f["firehose_buffer_seconds"] < DEFAULTS["firehose_buffer_seconds"]


# --- break points ------------------------------------------------------------------


def crossed(result: dict[str, Any]) -> set[str]:
    return {name for name, limit in result["limits"].items() if limit["crossed"]}


def test_a_modest_load_crosses_nothing():
    assert crossed(estimate(500, 1024)) == set()


def test_one_table_at_100k_changes_crosses_the_lane_the_quota_and_the_run_length():
    result = estimate(100_000, 1024)
    assert {"per_lane_ceiling", "table_write_quota", "kinesis_on_demand_start"} <= crossed(result)
    # The recommended schedule shortens the runs back under half the loader timeout,
    # but one lane cannot keep up with the table whatever the schedule, and says so.
    assert result["settings"]["schedule_minutes"] < DEFAULTS["schedule_minutes"]
    assert result["freshness"]["keeps_up"] is False
    assert any("no schedule keeps up" in reason for reason in result["settings"]["reasons"])


def test_spreading_the_load_over_tables_keeps_each_lane_under_its_ceiling():
    result = estimate(100_000, 1024, 4)
    assert not {"per_lane_ceiling", "table_write_quota"} & crossed(result)


def test_hundreds_of_tables_cross_firehose_partitions():
    limit = estimate(1_000, 1024, 300)["limits"]["firehose_active_partitions"]
    assert limit["load"] == 600 and limit["limit"] == 500 and limit["crossed"]


def test_the_lambda_limit_is_the_loader_timeout_within_15_minutes():
    limit = estimate(1_000, 1024, loader_timeout_seconds=900)["limits"]["lambda_15_minutes"]
    assert limit["limit"] == 900
    assert not limit["crossed"]


# --- measured rates -----------------------------------------------------------------


def write_results(path: Path, entries: list[dict[str, Any]], cpus: int = 2) -> Path:
    path.write_text(json.dumps({"machine": {"cpus": cpus}, "entries": entries}))
    return path


def entry(name: str, value: float, suite: str, unit: str = "changes/s") -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "suite": suite}


def test_the_lane_ceiling_comes_from_the_lanes_benchmark_when_there_is_one(tmp_path):
    results = write_results(
        tmp_path / "results.json",
        [
            entry(measured.LOADER_ALONE, 50_000.0, "loader"),
            entry(measured.LANES_ONE_LANE, 30_000.0, "lanes"),
            entry("per-lane ceiling (4 lanes on 2 cores)", 21_000.0, "lanes"),
        ],
    )
    lane = load_rates(results).lane
    assert lane.value == 21_000.0
    assert "per-lane ceiling" in lane.source
    # Without a stated ceiling, one lane loading alone is the ceiling.
    results = write_results(
        tmp_path / "results.json",
        [
            entry(measured.LOADER_ALONE, 50_000.0, "loader"),
            entry(measured.LANES_ONE_LANE, 30_000.0, "lanes"),
        ],
    )
    assert load_rates(results).lane.value == 30_000.0


def test_without_a_lanes_benchmark_the_loader_figure_is_the_lane(tmp_path):
    results = write_results(
        tmp_path / "results.json", [entry(measured.LOADER_ALONE, 44_000.0, "loader")]
    )
    rates = load_rates(results)
    assert rates.lane.value == 44_000.0
    # Entries it cannot find fall back to the named figures of the last run.
    assert rates.bulk.value == measured.BENCH_FALLBACK[measured.BULK_LOAD]
    assert "make bench of 2026-11-25" in rates.bulk.source


def test_without_bench_results_every_rate_is_a_named_figure(tmp_path):
    rates = load_rates(tmp_path / "missing.json")
    assert rates.per_row_parallel.value == measured.BENCH_FALLBACK[measured.PER_ROW_PARALLEL]
    assert rates.bench_cpus == measured.BENCH_FALLBACK_CPUS
    assert all("make bench of 2026-11-25" in r.source for r in (rates.lane, rates.bulk))


def test_the_repository_results_are_read_when_present():
    if not measured.BENCH_RESULTS_PATH.is_file():
        pytest.fail("bench/results.json is part of the repository")
    rates = load_rates()
    doc = json.loads(measured.BENCH_RESULTS_PATH.read_text())
    by_name = {e["name"]: e["value"] for e in doc["entries"]}
    assert rates.per_row_parallel.value == by_name.get(
        measured.PER_ROW_PARALLEL, measured.BENCH_FALLBACK[measured.PER_ROW_PARALLEL]
    )


def test_the_database_is_sized_from_the_measured_rates():
    rates = load_rates()
    result = estimate(10_000, 1024, rates=rates)
    bulk, per_row = result["database"]["this_design"], result["database"]["seed_design"]
    assert bulk["vcpus_needed"] == pytest.approx(
        10_000 / (rates.bulk.value / rates.bench_cpus) / est.DB_TARGET_UTILIZATION, abs=0.1
    )
    assert per_row["vcpus_needed"] > bulk["vcpus_needed"]
    assert per_row["vcpus"] >= per_row["vcpus_needed"] and bulk["vcpus"] >= bulk["vcpus_needed"]
    assert per_row["monthly_usd"] > bulk["monthly_usd"]
    # RDS Proxy is priced on the per-row database's vCPUs.
    proxy = load_prices()["prices"]["rds_proxy_vcpu_hour"]["usd"]
    assert result["seed_design"]["components"]["rds_proxy"] == pytest.approx(
        per_row["vcpus"] * 730 * proxy
    )


def test_a_slower_lane_makes_runs_longer_and_data_staler():
    rates = load_rates()
    slow = replace(rates, lane=replace(rates.lane, value=rates.lane.value / 4))
    fast_result, slow_result = estimate(5_000, 1024, rates=rates), estimate(5_000, 1024, rates=slow)
    assert slow_result["freshness"]["load_seconds"] > 3 * fast_result["freshness"]["load_seconds"]
    assert slow_result["freshness_seconds"] > fast_result["freshness_seconds"]


# --- the size model against real records ------------------------------------------------

NAMES = ("status", "customer_name", "shipping_address", "billing_address", "notes",
         "created_at", "updated_at", "currency", "channel", "coupon", "carrier", "tracking")  # fmt: skip
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima")  # fmt: skip


def ordinary_item(target_bytes: int, seed: int = 3) -> tuple[dict[str, Any], int]:
    """An item of ordinary attributes (words, a quarter numbers) and its DynamoDB size.

    DynamoDB's size: attribute name bytes plus value bytes, a number about one byte
    per two significant digits plus one.
    """
    rng = random.Random(seed)
    item = {"pk": {"S": "CUSTOMER#000042"}, "sk": {"S": "ORDER#2026-11-28#000001"}}
    size = sum(len(k) + len(v["S"]) for k, v in item.items())
    i = 0
    while size < target_bytes:
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f"_{i}")
        if i % 4 == 3:
            digits = str(rng.randint(10**5, 10**9))
            item[name] = {"N": digits}
            size += len(name) + len(digits) // 2 + 1
        else:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
            item[name] = {"S": text}
            size += len(name) + len(text)
        i += 1
    return item, size


def modify_record(item: dict[str, Any], size: int) -> dict[str, Any]:
    """A MODIFY record in the Kinesis-destination shape of the captured events."""
    captured = json.loads((EVENTS / "firehose_kinesis_dynamodb.json").read_text())
    record = json.loads(base64.b64decode(captured["records"][1]["data"]))
    assert record["eventName"] == "MODIFY"
    record["dynamodb"] = {
        "ApproximateCreationDateTime": 1764077160123456,
        "Keys": {"pk": item["pk"], "sk": item["sk"]},
        "NewImage": item,
        "OldImage": item,
        "SizeBytes": size,
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
    }
    return record


@pytest.mark.parametrize("target", [300, 1024, 4096, 16384])
def test_record_and_line_sizes_match_what_kinesis_and_the_transform_carry(target):
    from transforms.normalize import normalize_encoded

    item, size = ordinary_item(target)
    record = modify_record(item, size)
    # AWS writes compact JSON.
    record_bytes = len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
    line, _ = normalize_encoded(
        record, sequence_number="49660000000000000000000000000000000000000000000001",
        arrival_ms=1764077161000,
    )  # fmt: skip
    assert record_sizes.kinesis_record_bytes(size, 2) == pytest.approx(record_bytes, rel=0.1)
    assert record_sizes.staging_line_bytes(size) == pytest.approx(len(line), rel=0.1)


# --- inputs, output and the data it rests on -------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "sentence"),
    [
        ((0, 1024), {}, "changes per second must be a positive number, got 0."),
        ((-5, 1024), {}, "changes per second must be a positive number, got -5."),
        ((True, 1024), {}, "changes per second must be a positive number, got True."),
        ((100, 0), {}, "item bytes must be a positive whole number, got 0."),
        ((100, 1.5), {}, "item bytes must be a positive whole number, got 1.5."),
        ((100, 500_000), {}, "item bytes is 500000; a DynamoDB item is at most 400 KB"),
        ((100, 1024, 0), {}, "tables must be a positive whole number, got 0."),
        ((100, 1024), {"stream_mode": "fast"}, "stream mode must be on-demand or provisioned"),
        ((100, 1024), {"shards": 4}, "shards is a positive whole number, and only with provisioned"),
        ((100, 1024), {"images_per_change": 3}, "images per change must be between 1 and 2"),
        ((100, 1024), {"schedule_minutes": 0}, "schedule_minutes must be a positive whole number, got 0."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_one_sentence(args, kwargs, sentence):
    with pytest.raises(EstimateError) as caught:
        estimate(*args, **kwargs)
    message = str(caught.value)
    assert message.startswith(sentence)
    assert message.endswith(".") and "\n" not in message


def test_text_shows_both_totals_the_settings_and_every_break_point():
    result = estimate(100_000, 1024)
    text = render_text(result)
    assert f"${result['this_design']['monthly_usd']:,.0f}/month" in text
    assert f"${result['seed_design']['monthly_usd']:,.0f}/month" in text
    assert f"kinesis_shards={result['settings']['kinesis_shards']}" in text
    for name, limit in result["limits"].items():
        mark = "CROSSED" if limit["crossed"] else "ok"
        assert re.search(rf"\[\s*{mark}\s*\] {name}: ", text), name
    assert "ops/prices.json" in text


def test_every_price_names_its_source_date_and_how_sure_it_is():
    prices = load_prices()
    assert prices["region"] == "us-east-1"
    assert date.fromisoformat(prices["read_on"]) <= date.today()
    entries = [
        *prices["prices"].values(),
        *prices["limits"].values(),
        prices["rds_mariadb_instances"],
    ]
    for entry in entries:
        assert entry["source"]["url"].startswith("https://")
        assert entry["source"]["title"]
        assert entry["confirmed"] in ("aws", "secondary", "no")
        assert entry["how"] if "how" in entry else entry["note"]
    for entry in prices["prices"].values():
        assert entry["usd"] > 0 and entry["unit"]
    # What was not confirmed says so in words, not only in the flag.
    for entry in prices["prices"].values():
        if entry["confirmed"] == "no":
            assert "not confirmed" in entry["how"].lower()


def test_the_lambda_sizes_priced_are_the_ones_deployed():
    from stacks import defaults

    assert est.TRANSFORM_MEMORY_MB == defaults.TRANSFORM_MEMORY_MB
    assert est.LOADER_MEMORY_MB == defaults.LOADER_MEMORY_MB
    assert est.DB_MULTI_AZ == defaults.DB_MULTI_AZ


def test_docs_scale_table_is_current():
    doc = (REPO / "docs" / "SCALE.md").read_text()
    start, end = doc.index(report.DOC_START), doc.index(report.DOC_END)
    current = doc[start + len(report.DOC_START) : end].strip()
    assert current == report.scale_table(), (
        "docs/SCALE.md's table is stale (prices or bench/results.json changed): "
        "run `.venv/bin/python -m ops.estimate --write-doc`"
    )
