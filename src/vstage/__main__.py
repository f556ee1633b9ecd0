from vstage.cli import main

main()
