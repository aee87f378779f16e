"""Detection quality on labelled footage: registry footage of real people, composites built from it, scoring."""
