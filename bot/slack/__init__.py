"""The Slack layer: turns Slack requests into drafts and outcomes into Slack messages. Kept thin."""
