"""反诈自查助手: knowledge base, NLU components and web gateway."""
