"""Entry point for ``python -m syncdrop_local.emulator`` (same options as ``syncdrop emulator``)."""

from .cli import main

raise SystemExit(main())
