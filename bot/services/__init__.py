"""Domain services: plain async functions over an AsyncSession; no Telegram here."""
