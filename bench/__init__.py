"""clipbot's benchmark suite: where clipbot stands against the floors Slack, Rhombus and the
network set (`make bench` = `python -m bench`; see bench/README.md and bench/RESULTS.md)."""
