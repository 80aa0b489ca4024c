"""`farmgate demo`: the bot, a local Bot API emulator and a web page to chat as any user, on
this computer, without Telegram (issue 11)."""
