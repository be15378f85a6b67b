from tiermon.tui.cli import main

main()
