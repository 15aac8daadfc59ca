"""``python -m medbalance``."""

import sys

from medbalance.cli import main

sys.exit(main())
