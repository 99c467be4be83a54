"""clipbot: Rhombus saved clips in Slack."""

__version__ = "0.1.0"
