"""Entry point for ``python -m genesys_oauth_audit``."""

from genesys_oauth_audit.cli import main

raise SystemExit(main())
