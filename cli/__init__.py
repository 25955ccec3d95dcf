"""The `polyequiv` command line (installed as the import package ``polyequiv_cli``)."""
