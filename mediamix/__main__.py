"""``python -m mediamix`` runs the command-line interface."""

from mediamix.cli import main

raise SystemExit(main())
