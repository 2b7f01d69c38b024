"""Community outreach: quizzes, simulations, tip sheets, anonymous statistics (pure Python)."""
