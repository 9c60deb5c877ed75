"""`python -m runner` is `runwatch`."""

import sys

from runner.cli.main import main

sys.exit(main())
