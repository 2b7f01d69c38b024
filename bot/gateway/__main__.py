from bot.gateway.app import main

main()
