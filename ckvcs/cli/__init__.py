"""The ``ckv`` command line: typer commands that parse, call the API, render."""
