"""`python -m crawler.cli`: the `cablearchive` command."""

import sys

from crawler.cli.main import main

sys.exit(main())
