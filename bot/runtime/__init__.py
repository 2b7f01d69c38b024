"""Running the project: the stack (`make run`), what each process loads at start-up and
hands to the core (context.py), and the operations command lines (blocklist.py)."""
