"""run_sweeper's own code: finding what is due, ending stalled runs, closing timed-out questions."""
