from algotrade.cli import main

main()
