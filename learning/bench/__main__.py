import sys

from learning.bench.runner import main

sys.exit(main())
