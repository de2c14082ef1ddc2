"""The Lambda assets: built without Docker, small where they must be, and importable.

Each handler is imported in a fresh interpreter whose path holds only the asset
directory (plus, for the loader, the packages Lambda's runtime and the AWS SDK for
pandas layer provide, taken from this venv), as Lambda would see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stacks import defaults
from tests.stacks.conftest import REPO, Synthesized

# Provided at run time by the Lambda Python runtime (boto3) or by the pandas layer.
RUNTIME_AND_LAYER = (
    "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six",
    "pandas", "pyarrow", "numpy", "numpy.libs", "pytz", "tzdata",
)  # fmt: skip


def asset_dir(pipeline: Synthesized, function: object) -> Path:
    logical = pipeline.logical_id(function)
    resource = pipeline.template.to_json()["Resources"][logical]
    return pipeline.outdir / resource["Metadata"]["aws:asset:path"]


def layer_dir(tmp_path: Path) -> Path:
    """Symlinks to the venv's copies of what the runtime and the pandas layer provide."""
    import pandas

    site = Path(pandas.__file__).parent.parent
    layer = tmp_path / "layer"
    layer.mkdir()
    for name in RUNTIME_AND_LAYER:
        if (site / name).exists():
            (layer / name).symlink_to(site / name)
    return layer


def import_in_isolation(
    module: str, handler: str, paths: list[Path]
) -> subprocess.CompletedProcess:
    code = (
        "import sys, importlib; "
        f"sys.path[:0] = {json.dumps([str(p) for p in paths])}; "
        f"m = importlib.import_module({module!r}); "
        f"assert callable(getattr(m, {handler!r})); "
        "import orjson; print(orjson.__file__)"
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


def test_loader_bundle_holds_code_and_its_drivers(default_pipeline: Synthesized) -> None:
    asset = asset_dir(default_pipeline, default_pipeline.stack.loader.function)
    top = {p.name for p in asset.iterdir()}
    assert {"loaders", "contract", "pymysql", "orjson"} <= top
    assert not {"pandas", "pyarrow"} & top, "pandas/pyarrow come from the layer"


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
    assert result.stdout.strip().startswith(str(asset))


def test_loader_handler_imports_from_its_asset_and_the_layer(
    default_pipeline: Synthesized, tmp_path: Path
) -> None:
    require_module(defaults.LOADER_HANDLER)
    asset = asset_dir(default_pipeline, default_pipeline.stack.loader.function)
    module, handler = defaults.LOADER_HANDLER.rsplit(".", 1)
    result = import_in_isolation(module, handler, [asset, layer_dir(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(asset))
