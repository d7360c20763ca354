import sys

from visempar.cli import main

sys.exit(main())
