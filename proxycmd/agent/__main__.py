"""``python -m proxycmd.agent [--runtime-dir DIR] ...`` runs the key agent in the foreground."""

from .main import main

raise SystemExit(main())
