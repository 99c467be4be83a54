"""Local servers that speak the Rhombus API and the Slack Web API on loopback."""
