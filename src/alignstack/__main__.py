"""`python -m alignstack ...` (what `accelerate launch -m alignstack optimize ...` runs)."""

from alignstack.cli.main import app

app(prog_name="alignstack")
