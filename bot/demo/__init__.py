"""farmgate's demo: the bot in a browser, against the Bot API emulator (issue 11)."""
