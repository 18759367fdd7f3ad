from cauri.cli import main

main()
