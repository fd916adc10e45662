"""Pure selection: semver ranges, orderings, tag filters, exclusion, gates -> Decision."""
