"""Who is asking and what they may do: passwords, sessions, CSRF, throttling, tokens, and the pure policy."""
