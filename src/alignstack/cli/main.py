"""Entry point: `alignstack --help`. Heavy libraries load inside the commands, not here."""

from __future__ import annotations

import os

import typer

from alignstack.cli import correct, demo, generate, serve, train
from alignstack.cli import evaluate, judges
from alignstack.cli import synth
from alignstack.cli import stack_cmd
from alignstack.cli import optimize, quantize
from alignstack.cli import project
from alignstack.cli.common import quiet_libraries

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Align language models to a written set of principles.")
app.add_typer(train.app, name="train")
app.add_typer(judges.app, name="judges")
app.command("correct")(correct.correct)
app.command("generate")(generate.generate)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("audit-export")(serve.audit_export)
app.command("eval")(evaluate.evaluate)
app.command("synth")(synth.synth)
app.command("stack")(stack_cmd.stack)
app.command("export")(quantize.export)
app.command("quantize")(quantize.quantize)
app.command("optimize")(optimize.optimize)
app.command("bootstrap")(optimize.bootstrap)
app.command("init")(project.init)
app.command("build")(project.build)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks.")) -> None:
    quiet_libraries()
    if debug:
        os.environ["ALIGNSTACK_DEBUG"] = "1"


if __name__ == "__main__":
    app()
