"""CDK entry point (cdk.json: ``python3 app.py``): config from context -> PipelineStack.

Reads the ``ddbload`` context (and the ``ddbload_*`` deployment options), validates
it, and synthesizes one environment-agnostic stack, so ``cdk synth`` needs no
credentials and no account lookups. A bad configuration stops synth with one
sentence per problem and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
VENV_PYTHON = VENV / "bin" / "python"


def _use_project_venv() -> None:
    """cdk.json runs plain ``python3``; from a fresh shell that is not the project venv."""
    try:
        import aws_cdk  # noqa: F401
    except ModuleNotFoundError:
        if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV.resolve():
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
        sys.exit("ddbload: aws-cdk-lib is not installed; run `make venv` first.")


def main() -> int:
    # jsii warns on every start under Node 20 unless told that major version is accepted.
    silenced = os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "")
    os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = ",".join(
        v for v in (silenced, "20") if v
    )
    _use_project_venv()
    sys.path.insert(0, str(HERE))

    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from contract.config import ConfigError
    from stacks import deploy_options
    from stacks.pipeline_stack import PipelineStack

    app = cdk.App()
    context = {
        key: app.node.try_get_context(key)
        for key in (
            deploy_options.CONTEXT_CONFIG,
            deploy_options.CONTEXT_STACK_NAME,
            deploy_options.CONTEXT_ALARM_EMAIL,
        )
    }
    try:
        config, options = deploy_options.load({k: v for k, v in context.items() if v is not None})
    except ConfigError as e:
        print("ddbload: the configuration in cdk.json cannot be deployed:", file=sys.stderr)
        for problem in e.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    PipelineStack(app, options.stack_name, config=config, options=options)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
