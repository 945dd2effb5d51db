"""One module per claim edit rule. Each module has a `SPEC` (stable id, severity, datasets, message and fix
templates written once: `hcpcs.edits.spec.RuleSpec`), `check(ctx)` for one claim and `check_batch(ctx)` for
a batch, side by side, and a docstring that explains the billing policy and gives one failing and one
passing example claim (run as tests). `hcpcs.edits.registry` finds them; each has a case file in
tests/rules/ that both engines run."""
