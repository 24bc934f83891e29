"""Task processes on a worker: spawning, bounded output capture, the group watchdog."""
