import sys

from composer_sched.cli import main

sys.exit(main())
