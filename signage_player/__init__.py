"""The signage player daemon: schedule, render, display, proof-of-play."""
