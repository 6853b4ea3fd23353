"""`python -m agent` is `deskwatch-agent`."""

import sys

from agent.cli import main

sys.exit(main())
