from __future__ import annotations

import sys

from realtime.cli import main

sys.exit(main())
