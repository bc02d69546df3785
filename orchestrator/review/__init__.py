"""Review in git: verdicts on clips in ``<spec>.review.yaml``, the review server, approvals."""
