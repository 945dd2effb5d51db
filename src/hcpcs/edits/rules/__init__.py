"""One module per claim edit rule. Each module has a stable RULE_ID, a SEVERITY, a docstring that
explains the billing policy and gives one failing and one passing example claim (run as tests), and
`check(ctx)` returning its findings (a list, empty when the rule cannot fire)."""
