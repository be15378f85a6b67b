import sys

from tiermon.tui.cli import main

sys.exit(main())
