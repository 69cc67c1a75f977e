"""The `tandem` command line: one console script, a subcommand per area."""
