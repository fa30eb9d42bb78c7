"""Business rules: who may do what, how accounts, posts and tokens behave. No web imports here."""
