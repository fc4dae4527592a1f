"""The whole system composed: the `digital-spaces` command and the one-machine demo.

The CMS, the device runtime, the player and the portal do not import this package; it
imports them, each only when its subcommand runs, so a Pi never loads the CMS."""
