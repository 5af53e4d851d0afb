from defence_engagements.cli import main

main()
