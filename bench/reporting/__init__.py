"""bench.sh's figures → tables, targets and charts (see bench/report.py for the commands)."""
