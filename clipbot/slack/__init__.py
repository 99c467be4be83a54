"""The Slack app: Bolt listeners for /clips, the triage buttons and the App Home."""
