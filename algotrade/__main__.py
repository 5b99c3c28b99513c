import sys

from algotrade.live.signals import hold_early

hold_early(sys.argv[1:])  # first: a stop signal while click and the command load ends the command cleanly

from algotrade.cli import main  # noqa: E402

main()
