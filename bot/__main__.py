"""`python -m bot` is the same program as `sociocs-bot`."""

from bot.cli import main

raise SystemExit(main())
