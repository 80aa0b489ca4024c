"""The parts of the notice dispatcher (bot/notice_dispatcher.py), one concern a module:

- pacing: the global rate (Pacer);
- claims: claiming due notices, returning unused claims to the queue;
- sending: one request to Telegram, with its immediate retries;
- outcomes: recording what became of a sent notice (one writer per kind of database);
- liveness: who holds a claim and whether that process is still alive;
- progress: editing the live progress message of running broadcasts.
"""
