"""rasa-sdk action server package: thin actions that read the tracker, call bot.kb and
format messages. Run with `rasa run actions --actions actions`."""
from bot.runtime.context import warm_up_in_background
from bot.settings import Settings

# rasa-sdk imports this package when the action server starts: load the pipelines then, not
# on a resident's first turn (FANZHA_WARM_UP=false turns it off).
if Settings().fanzha_warm_up:
    warm_up_in_background()
