"""Notifications: what happened to a user's work while they looked elsewhere (a
generation finished or failed). Workers write them in the transaction that records the
outcome; users list them, mark them read and delete them, under RLS."""
