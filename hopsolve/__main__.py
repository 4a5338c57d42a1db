"""``python -m hopsolve``: the same command line as the ``hopsolve`` script."""

from hopsolve.cli import main

raise SystemExit(main())
