"""The domain: drafts, recipients, payloads and outcomes. Knows nothing of Slack or HTTP."""
