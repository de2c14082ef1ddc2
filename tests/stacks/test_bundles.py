"""The Lambda assets: built without Docker, small where they must be, and importable.

Each handler is imported in a fresh interpreter whose path holds only the asset
directory (plus, for the loader, boto3 and what it needs, which Lambda's Python runtime
provides, taken from this venv), as Lambda would see it. The loader bundles pyarrow and
numpy itself, at the versions the tests run with, and must fit Lambda's 250 MB unzipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stacks import defaults
from tests.stacks.conftest import REPO, Synthesized

# Provided at run time by the Lambda Python runtime.
RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def asset_dir(pipeline: Synthesized, function: object) -> Path:
    logical = pipeline.logical_id(function)
    resource = pipeline.template.to_json()["Resources"][logical]
    return pipeline.outdir / resource["Metadata"]["aws:asset:path"]


def runtime_dir(tmp_path: Path) -> Path:
    """Symlinks to the venv's copies of what the Lambda Python runtime provides."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME:
        if (site / name).exists():
            (runtime / name).symlink_to(site / name)
    return runtime


def dist_versions(asset: Path) -> dict[str, str]:
    """name -> version of every distribution pip installed into the asset."""
    found = {}
    for info in asset.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        found[name.lower().replace("_", "-")] = version
    return found


def import_in_isolation(
    module: str, handler: str, paths: list[Path]
) -> subprocess.CompletedProcess:
    code = (
        "import sys, importlib; "
        f"sys.path[:0] = {json.dumps([str(p) for p in paths])}; "
        f"m = importlib.import_module({module!r}); "
        f"assert callable(getattr(m, {handler!r})); "
        "import orjson; print(orjson.__file__); "
        "import importlib.util as u; s = u.find_spec('pyarrow'); print(s.origin if s else '-')"
    )
    # -S: no site-packages, -I: no user site and no PYTHON* variables; only ``paths``.
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=paths[0],
        capture_output=True,
        text=True,
        timeout=120,
    )


def require_module(dotted: str) -> None:
    module_file = REPO / (dotted.rsplit(".", 1)[0].replace(".", "/") + ".py")
    assert module_file.exists(), f"{module_file.relative_to(REPO)} is missing"


def test_transform_bundle_holds_code_and_orjson_only(default_pipeline: Synthesized) -> None:
    asset = asset_dir(default_pipeline, default_pipeline.stack.delivery.transform)
    top = {p.name for p in asset.iterdir() if not p.name.endswith(".dist-info")}
    assert {"transforms", "contract", "orjson"} <= top
    assert not {"pandas", "pyarrow", "numpy", "pymysql"} & top
    size = sum(f.stat().st_size for f in asset.rglob("*") if f.is_file())
    assert size < 5 * 1024 * 1024, f"transform bundle is {size} bytes"


def test_loader_bundle_holds_code_drivers_and_the_tested_pyarrow(
    default_pipeline: Synthesized,
) -> None:
    import numpy
    import pyarrow

    # GIVEN the loader's asset
    asset = asset_dir(default_pipeline, default_pipeline.stack.loader.function)
    top = {p.name for p in asset.iterdir()}
    # THEN it holds our code, its drivers and pyarrow + numpy, and nothing of pandas
    assert {"loaders", "contract", "pymysql", "orjson", "pyarrow", "numpy"} <= top
    assert "pandas" not in top
    # AND pyarrow and numpy are exactly the versions these tests run with
    versions = dist_versions(asset)
    assert versions["pyarrow"] == pyarrow.__version__
    assert versions["numpy"] == numpy.__version__
    # AND their wheels are ones the python3.11 runtime (glibc 2.26) can load
    for name in ("pyarrow", "numpy"):
        wheel = (asset / f"{name}-{versions[name]}.dist-info" / "WHEEL").read_text()
        tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag:")]
        assert tags and all(
            "manylinux2014_x86_64" in t or "manylinux_2_17_x86_64" in t for t in tags
        ), tags


def test_loader_bundle_fits_lambdas_unzipped_limit(default_pipeline: Synthesized) -> None:
    asset = asset_dir(default_pipeline, default_pipeline.stack.loader.function)
    size = sum(f.stat().st_size for f in asset.rglob("*") if f.is_file() and not f.is_symlink())
    assert size < defaults.LAMBDA_UNZIPPED_LIMIT_BYTES, f"loader bundle is {size} bytes"


def test_bundled_wheels_are_linux_x86_64(default_pipeline: Synthesized) -> None:
    asset = asset_dir(default_pipeline, default_pipeline.stack.delivery.transform)
    extensions = list((asset / "orjson").glob("*.so"))
    assert extensions and all("x86_64-linux-gnu" in e.name for e in extensions)
    assert all("cpython-311" in e.name for e in extensions)


def test_transform_handler_imports_from_its_asset(default_pipeline: Synthesized) -> None:
    require_module(defaults.TRANSFORM_HANDLER)
    asset = asset_dir(default_pipeline, default_pipeline.stack.delivery.transform)
    module, handler = defaults.TRANSFORM_HANDLER.rsplit(".", 1)
    result = import_in_isolation(module, handler, [asset])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].startswith(str(asset))


def test_loader_handler_imports_from_its_asset_and_the_runtime(
    default_pipeline: Synthesized, tmp_path: Path
) -> None:
    require_module(defaults.LOADER_HANDLER)
    asset = asset_dir(default_pipeline, default_pipeline.stack.loader.function)
    module, handler = defaults.LOADER_HANDLER.rsplit(".", 1)
    result = import_in_isolation(module, handler, [asset, runtime_dir(tmp_path)])
    assert result.returncode == 0, result.stderr
    orjson_file, pyarrow_file = result.stdout.split()
    assert orjson_file.startswith(str(asset))
    assert pyarrow_file.startswith(str(asset)), "pyarrow must come from the bundle"
