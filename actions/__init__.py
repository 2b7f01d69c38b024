"""rasa-sdk action server package: thin actions that read the tracker, call bot.kb and
format messages. Run with `rasa run actions --actions actions`."""
