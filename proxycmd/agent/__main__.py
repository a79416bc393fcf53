"""``python -m proxycmd.agent [--runtime-dir DIR] ...`` runs the key agent in the foreground."""

from .server import main

raise SystemExit(main())
