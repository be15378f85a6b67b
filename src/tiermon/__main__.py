import sys

from tiermon.entry import main

sys.exit(main())
