"""CLI subcommands; see host_harness/cli.py."""
