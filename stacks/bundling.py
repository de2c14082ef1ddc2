"""Lambda code assets built without Docker: our packages plus Linux wheels from PyPI.

Each function's asset is a directory holding the runtime packages it needs (copied
from the repository) and its pinned third-party dependencies, installed with
``pip install --platform manylinux2014_x86_64 --only-binary=:all: --target`` so the
wheels match the Lambda runtime whatever machine synthesizes. CDK calls
``LocalBundler.try_bundle`` (its ``ILocalBundling`` hook), so Docker is never needed.

A finished bundle is cached under ``build/lambda-bundles/<hash>``, keyed by the
package sources, the pins and the platform, so repeated synths (and the test suite)
pip-install once. Extra files (the loader's RDS CA bundle) are copied to the asset root
on top of the cached bundle and are part of the asset hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks import defaults

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = REPO_ROOT / "build" / "lambda-bundles"
# Bump when the bundle layout changes, so old cache entries are not reused.
BUNDLE_FORMAT = "1"
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".*")
RDS_CA_BUNDLE = REPO_ROOT / defaults.RDS_CA_BUNDLE_FILE
_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


def rds_ca_bundle(path: Path | None = None) -> Path | None:
    """The CA bundle for the loader's TLS if the user saved one (see docs/DEPLOY.md)."""
    path = path or RDS_CA_BUNDLE
    if not path.is_file():
        return None
    if _PEM_CERTIFICATE not in path.read_bytes():
        raise ValueError(
            f"{path} holds no PEM certificate; save AWS's RDS global-bundle.pem there "
            "(see docs/DEPLOY.md), or remove it."
        )
    return path


def pinned(names: tuple[str, ...], pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The ``name==version`` pins of ``names`` from pyproject's dependencies (one source)."""
    with pyproject.open("rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    by_name = {re.split(r"[=<>~!\[ ;]", d, maxsplit=1)[0].lower(): d for d in deps}
    missing = [n for n in names if n.lower() not in by_name]
    if missing:
        raise RuntimeError(f"pyproject.toml does not pin {', '.join(missing)}.")
    return [by_name[n.lower()] for n in names]


def _source_files(packages: tuple[str, ...]) -> list[Path]:
    files = []
    for package in packages:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files.append(path)
    return files


def bundle_hash(
    packages: tuple[str, ...],
    requirements: list[str],
    extra_files: tuple[tuple[str, Path], ...] = (),
) -> str:
    digest = hashlib.sha256()
    for part in (BUNDLE_FORMAT, defaults.PYTHON_VERSION, defaults.WHEEL_PLATFORM, *requirements):
        digest.update(part.encode() + b"\0")
    for path in _source_files(packages):
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for name, path in extra_files:
        digest.update(b"extra:" + name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_bundle(packages: tuple[str, ...], requirements: list[str], target: Path) -> None:
    """Install the Linux wheels of ``requirements`` and copy ``packages`` into ``target``."""
    if requirements:
        result = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-compile", "--only-binary=:all:", "--implementation", "cp",
                "--platform", defaults.WHEEL_PLATFORM,
                "--python-version", defaults.PYTHON_VERSION,
                "--target", str(target), *requirements,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not install {' '.join(requirements)} for the Lambda bundle:\n"
                + result.stderr[-4000:]
            )
    for package in packages:
        shutil.copytree(REPO_ROOT / package, target / package, ignore=SKIP, dirs_exist_ok=True)


def cached_bundle(packages: tuple[str, ...], requirements: list[str]) -> Path:
    """The bundle directory for these inputs, built once and reused."""
    done = CACHE_ROOT / bundle_hash(packages, requirements)
    if done.is_dir():
        return done
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE_ROOT))
    try:
        build_bundle(packages, requirements, work)
        try:
            os.rename(work, done)
        except OSError:
            # Another process finished the same bundle first; theirs is identical.
            if not done.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return done


@jsii.implements(ILocalBundling)
class LocalBundler:
    """CDK's local bundling hook: copy the cached bundle into CDK's output directory."""

    def __init__(
        self,
        packages: tuple[str, ...],
        requirements: list[str],
        extra_files: tuple[tuple[str, Path], ...] = (),
    ) -> None:
        self.packages = packages
        self.requirements = requirements
        self.extra_files = extra_files

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        shutil.copytree(
            cached_bundle(self.packages, self.requirements), output_dir, dirs_exist_ok=True
        )
        for name, path in self.extra_files:
            shutil.copyfile(path, Path(output_dir) / name)
        return True


def python_code(
    packages: tuple[str, ...],
    requirement_names: tuple[str, ...],
    extra_files: tuple[tuple[str, Path], ...] = (),
) -> lambda_.Code:
    """A Lambda code asset of ``packages``, the pinned ``requirement_names`` and
    ``extra_files`` ((name at the asset root, source file) pairs)."""
    requirements = pinned(requirement_names)
    return lambda_.Code.from_asset(
        str(REPO_ROOT / packages[0]),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundle_hash(packages, requirements, extra_files),
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds, and CDK only falls back
            # to Docker when it does not.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.11"),
            local=LocalBundler(packages, requirements, extra_files),
        ),
    )


def transform_code() -> lambda_.Code:
    return python_code(defaults.TRANSFORM_PACKAGES, defaults.TRANSFORM_REQUIREMENTS)


def loader_code(ca_bundle: Path | None = None) -> lambda_.Code:
    """The loader asset; ``ca_bundle`` lands at its root as ``rds-ca-bundle.pem``."""
    extra = ((defaults.RDS_CA_BUNDLE_FILE, ca_bundle),) if ca_bundle is not None else ()
    return python_code(defaults.LOADER_PACKAGES, defaults.LOADER_REQUIREMENTS, extra)
