import sys

from nephthys.cli import main

sys.exit(main())
